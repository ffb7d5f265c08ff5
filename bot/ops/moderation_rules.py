"""Moderation rules as a file (CSV or YAML) and the upsert `moderation import` runs.

Columns / keys: pattern (required), kind (words | regex, default words), action (flag | block | replace,
default flag), replacement (replace only; default ***), active (true | false, default true), note. Rows are
matched to stored rules by (kind, pattern): a new one is added, a changed one updated, the same left alone;
rules the file does not name are kept (set `active: false` to retire one). Every row is checked first — a
regex must compile and be safe (bot/dialog/moderation/rules.py) — and one bad row writes nothing.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.dialog.moderation.rules import RuleError, compile_rule
from models import ModerationRule

COLUMNS = ("pattern", "kind", "action", "replacement", "active", "note")
TRUE, FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


class RulesFileError(ValueError):
    """A file that cannot be imported; the message names every bad line."""


@dataclass(frozen=True)
class RuleRow:
    kind: str
    pattern: str
    action: str
    replacement: str | None
    active: bool
    note: str | None


@dataclass
class ImportResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


def read_rules_file(path: str) -> list[RuleRow]:
    """The file's rows, checked; RulesFileError listing each bad line."""
    numbered = _yaml_rows(path) if Path(path).suffix.lower() in (".yaml", ".yml") else _csv_rows(path)
    rows, errors, seen = [], [], {}
    for line, raw in numbered:
        try:
            row = _row(raw)
        except RuleError as exc:
            errors.append(f"line {line}: {exc}")
            continue
        key = (row.kind, row.pattern)
        if key in seen:
            errors.append(f"line {line}: the same {row.kind} pattern as line {seen[key]}")
        seen.setdefault(key, line)
        rows.append(row)
    if errors:
        raise RulesFileError("\n".join(errors))
    return rows


def _csv_rows(path: str) -> list[tuple[int, dict]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if "pattern" not in (reader.fieldnames or ()):
            raise RulesFileError(f"line 1: the header needs a pattern column ({','.join(COLUMNS)})")
        rows = []
        for raw in reader:
            rows.append((reader.line_num, raw))
        return rows


def _yaml_rows(path: str) -> list[tuple[int, dict]]:
    text = Path(path).read_text(encoding="utf-8")
    try:
        node, data = yaml.compose(text), yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesFileError(f"not valid YAML: {exc}") from exc
    if isinstance(data, dict) and "rules" in data:  # `rules: [...]` or a bare list
        node = next(value for key, value in node.value if key.value == "rules")
        data = data["rules"]
    if not isinstance(data, list):
        raise RulesFileError("line 1: expected a list of rules (or `rules:` with a list)")
    numbered = []
    for item, raw in zip(node.value, data, strict=True):
        if not isinstance(raw, dict):
            raise RulesFileError(f"line {item.start_mark.line + 1}: a rule is a mapping with a pattern")
        numbered.append((item.start_mark.line + 1, raw))
    return numbered


def _text(raw: dict, key: str) -> str | None:
    value = raw.get(key)
    return None if value is None or str(value).strip() == "" else str(value).strip()


def _row(raw: dict) -> RuleRow:
    unknown = sorted(set(raw) - set(COLUMNS) - {None})
    if unknown:
        raise RuleError(f"unknown column {unknown[0]!r} (known: {', '.join(COLUMNS)})")
    pattern = _text(raw, "pattern")
    if pattern is None:
        raise RuleError("pattern is empty")
    kind = (_text(raw, "kind") or "words").lower()
    action = (_text(raw, "action") or "flag").lower()
    replacement = _text(raw, "replacement")
    if kind == "words":
        pattern = " ".join(pattern.split())
    compile_rule(None, kind, pattern, action, replacement)
    if replacement is not None and action != "replace":
        raise RuleError(f"replacement is only for action replace (this rule's action is {action})")
    active = (_text(raw, "active") or "true").lower()
    if active not in TRUE + FALSE:
        raise RuleError(f"active must be true or false, got {active!r}")
    return RuleRow(kind, pattern, action, replacement, active in TRUE, _text(raw, "note"))


def import_rules(session: Session, rows: list[RuleRow]) -> ImportResult:
    """Upserts by (kind, pattern); the caller commits."""
    stored = {(r.kind, r.pattern): r for r in session.scalars(select(ModerationRule))}
    result = ImportResult()
    for row in rows:
        values = {"action": row.action, "replacement": row.replacement, "active": row.active, "note": row.note}
        existing = stored.get((row.kind, row.pattern))
        if existing is None:
            session.add(ModerationRule(kind=row.kind, pattern=row.pattern, **values))
            result.added += 1
        elif any(getattr(existing, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(existing, name, value)
            result.updated += 1
        else:
            result.unchanged += 1
    return result
