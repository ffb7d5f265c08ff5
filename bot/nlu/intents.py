"""Intents as data: the YAML files under `intents/` (see intents/builtin.yaml for the fields)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.core.errors import ConfigurationError
from bot.core.settings import PROJECT_ROOT

INTENTS_DIR = PROJECT_ROOT / "intents"


@dataclass(frozen=True)
class Intent:
    name: str
    category: str
    priority: int
    role: str  # any | organizer
    examples_en: tuple[str, ...]
    examples_ar: tuple[str, ...]
    patterns: tuple[re.Pattern, ...] = ()
    responses: dict = field(default_factory=dict)  # language → text
    action: str | None = None
    min_confidence: float = 0.0  # answer only at this confidence or above (besides MATCH_HIGH)

    def allows(self, role: str) -> bool:
        return self.role == "any" or self.role == role or role == "admin"

    def matches_pattern(self, normalized: str) -> bool:
        return any(p.search(normalized) for p in self.patterns)


def _intent(raw: dict, source: Path) -> Intent:
    name = raw.get("name")
    where = f"{source.name}: intent {name!r}"
    if not name or not isinstance(raw.get("examples"), dict):
        raise ConfigurationError(f"{where}: needs a name and examples (en/ar)")
    if not raw.get("responses") and not raw.get("action"):
        raise ConfigurationError(f"{where}: needs responses or an action")
    try:
        patterns = tuple(re.compile(p) for p in raw.get("patterns") or [])
    except re.error as exc:
        raise ConfigurationError(f"{where}: bad pattern: {exc}") from exc
    return Intent(name=name, category=raw.get("category") or "general", priority=int(raw.get("priority") or 0),
                  role=raw.get("role") or "any", examples_en=tuple(raw["examples"].get("en") or ()),
                  examples_ar=tuple(raw["examples"].get("ar") or ()), patterns=patterns,
                  responses=dict(raw.get("responses") or {}), action=raw.get("action"),
                  min_confidence=float(raw.get("min_confidence") or 0.0))


def load_intents(directory: Path = INTENTS_DIR) -> list[Intent]:
    """Every intent in `directory/*.yaml`, highest priority first; names must be unique."""
    intents: dict[str, Intent] = {}
    for path in sorted(directory.glob("*.yaml")):
        for raw in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            intent = _intent(raw, path)
            if intent.name in intents:
                raise ConfigurationError(f"{path.name}: intent {intent.name!r} is defined twice")
            intents[intent.name] = intent
    return sorted(intents.values(), key=lambda i: -i.priority)
