"""The cells of an events file, parsed and checked one at a time (`bot/events/files.py` assembles the rows).

Each parser takes what the CSV or YAML reader produced (a string, or a number/date YAML already typed) and
returns the stored value, or raises ValueError with a message that completes "row 4 (code 'X'): ...".
Organisers in Aden type numbers with Arabic-Indic digits (٥٠٠٠) and group thousands with "," or "٬";
both are accepted wherever a number is.
"""
from __future__ import annotations

import math
import re
from datetime import date, datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from bot.core.errors import MalformedRequest
from bot.core.phones import to_e164
from models.events import DEFAULT_TIMEZONE, EVENT_STATUSES

# Arabic-Indic (٠-٩) and Extended Arabic-Indic (۰-۹, Persian/Urdu keyboards) digits → ASCII.
DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
WHOLE_NUMBER = re.compile(r"^(?:\d+|\d{1,3}(?:[,\u066c]\d{3})+)$")  # 5000, 5,000, 5٬000
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
DATE_ONLY = re.compile(r"^\d{4}-?\d{2}-?\d{2}$")
LIST_SEPARATOR = "|"
DEFAULT_STATUS = "published"


def text(value: object) -> str | None:
    """A cell as trimmed text; None for an empty cell."""
    if value is None:
        return None
    return str(value).strip() or None


def bounded_text(value: object, name: str, limit: int) -> str | None:
    result = text(value)
    if result is not None and len(result) > limit:
        raise ValueError(f"{name} must be at most {limit} characters")
    return result


def required_text(value: object, name: str, limit: int) -> str:
    result = bounded_text(value, name, limit)
    if result is None:
        raise ValueError(f"{name} is required")
    return result


def code(value: object) -> str:
    result = text(value)
    if result is None or not CODE_PATTERN.match(result):
        raise ValueError("code is required and must be 1-40 letters, digits, '-' or '_'")
    return result


def whole_number(value: object) -> int:
    """`5000`, `"5,000"`, `"٥٠٠٠"`, `"٥٬٠٠٠"` → 5000; ValueError for anything else (signs, decimals, words)."""
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    # the Arabic thousands separator (٬) is a comma: "٣٬٠٠٠" is 3000 (it is not ASCII, so it goes first)
    cleaned = str(value).strip().translate(DIGITS).replace("\u066c", ",")
    if not cleaned.isascii() or not WHOLE_NUMBER.match(cleaned):
        raise ValueError("not a whole number")
    return int(cleaned.replace(",", ""))


def price_yer(value: object) -> int:
    """An empty cell is a free event."""
    if text(value) is None:
        return 0
    try:
        return whole_number(value)
    except ValueError:
        raise ValueError("price_yer must be a whole number of rials ≥ 0 (empty or 0 = free)") from None


def capacity(value: object) -> int:
    try:
        result = whole_number(value) if text(value) is not None else 0
    except ValueError:
        result = 0
    if result <= 0:
        raise ValueError("capacity must be a whole number > 0")
    return result


def status(value: object) -> str:
    result = (text(value) or DEFAULT_STATUS).lower()
    if result not in EVENT_STATUSES:
        raise ValueError(f"status must be one of {', '.join(EVENT_STATUSES)}")
    return result


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def zone_name(value: object) -> str:
    result = text(value) or DEFAULT_TIMEZONE
    if result not in _zone_names():
        raise ValueError(f"timezone {result!r} is not an IANA time zone (e.g. Asia/Aden)")
    return result


def moment(value: object, name: str, zone: str) -> datetime:
    """ISO 8601 date and time; without an offset it is local time in `zone`. Returned as aware UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        raise ValueError(f"{name} needs a time as well as a date (e.g. 2026-12-05T19:30)")
    else:
        cleaned = (text(value) or "").translate(DIGITS)
        if DATE_ONLY.match(cleaned):
            raise ValueError(f"{name} needs a time as well as a date (e.g. 2026-12-05T19:30)")
        try:
            parsed = datetime.fromisoformat(cleaned)
        except ValueError:
            raise ValueError(f"{name} must be an ISO 8601 date and time (e.g. 2026-12-05T19:30)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(zone))
    return parsed.astimezone(timezone.utc)


def coordinate(value: object, name: str, bound: float) -> float | None:
    if text(value) is None:
        return None
    try:
        result = float(str(value).strip().translate(DIGITS))
    except ValueError:
        result = math.nan
    if not math.isfinite(result) or abs(result) > bound:
        raise ValueError(f"{name} must be a number between -{bound:g} and {bound:g}")
    return result


def phones(value: object) -> tuple[str, ...]:
    """Numbers separated by " | " (or a YAML list) → E.164, duplicates dropped, order kept."""
    items = value if isinstance(value, list) else (text(value) or "").split(LIST_SEPARATOR)
    found: list[str] = []
    for item in (text(i) for i in items):
        if item is None:
            continue
        found.append(phone(item))
    return tuple(dict.fromkeys(found))


def phone(value: str) -> str:
    cleaned = re.sub(r"[\s\-().]", "", value.translate(DIGITS))
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    try:
        return to_e164(cleaned)
    except MalformedRequest:
        raise ValueError(f"organizers: {value!r} is not a phone number with its country code") from None
