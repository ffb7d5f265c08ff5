"""Text the bot says itself: the catalogs in `bot/i18n/locales/*.yaml`, English and Arabic side by side.

Every user-facing sentence lives there, never as a literal in code. `say(key, language, **values)` fills the
placeholders; `say_both` writes both languages when the bot cannot tell which one the user reads.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from bot.core.errors import ConfigurationError

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
LANGUAGES = ("en", "ar")


def load_catalogs(directory: Path = LOCALES_DIR) -> dict[str, dict[str, str]]:
    """Every `key: {en, ar}` of every YAML file in `directory`; a key defined twice or missing a language
    stops start-up."""
    messages: dict[str, dict[str, str]] = {}
    for path in sorted(directory.glob("*.yaml")):
        for key, texts in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items():
            if key in messages:
                raise ConfigurationError(f"{path.name}: message {key!r} is defined twice")
            if not isinstance(texts, dict) or any(not texts.get(lang) for lang in LANGUAGES):
                raise ConfigurationError(f"{path.name}: message {key!r} needs both 'en' and 'ar'")
            messages[key] = {lang: str(texts[lang]) for lang in LANGUAGES}
    return messages


MESSAGES = load_catalogs()
MEDIA_KINDS = {kind: MESSAGES[f"media_kind_{kind}"]
               for kind in ("image", "video", "audio", "document", "sticker", "contact", "media")}


def say(key: str, language: str, **values) -> str:
    return MESSAGES[key][language if language in LANGUAGES else "en"].format(**values)


def say_both(key: str, first: str = "en", **values: dict[str, str] | str) -> str:
    """Both languages, the user's first: used when the bot cannot be sure which one the user reads."""
    second = "ar" if first == "en" else "en"

    def render(lang: str) -> str:
        return MESSAGES[key][lang].format(**{k: v[lang] if isinstance(v, dict) else v for k, v in values.items()})
    return f"{render(first)}\n\n{render(second)}"
