"""The message catalogs and the localisation helpers: every message in both languages with the same
placeholders; dates, prices and seat counts as an Aden attendee reads them; RTL isolates; free-text parsing."""
from __future__ import annotations

import string
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.core.errors import ConfigurationError
from bot.dialog.journeys.common import parse_seats
from bot.i18n import catalog, localize


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(catalog.MESSAGES))
def test_every_message_has_both_languages_with_the_same_placeholders(key):
    texts = catalog.MESSAGES[key]
    assert texts["en"].strip() and texts["ar"].strip()
    assert placeholders(texts["en"]) == placeholders(texts["ar"]), key


def test_a_message_missing_a_language_stops_start_up(tmp_path: Path):
    (tmp_path / "bad.yaml").write_text("greeting:\n  en: Hello\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="greeting"):
        catalog.load_catalogs(tmp_path)


def test_a_message_defined_twice_stops_start_up(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("x:\n  en: A\n  ar: أ\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("x:\n  en: B\n  ar: ب\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="twice"):
        catalog.load_catalogs(tmp_path)


EVENING = datetime(2026, 12, 5, 16, 30, tzinfo=timezone.utc)  # 19:30 in Aden (UTC+3)


@pytest.mark.parametrize("language, expected", [
    ("en", "Saturday 5 December, 7:30 PM"),
    ("ar", f"السبت ٥ ديسمبر، {localize.LRI}٧:٣٠{localize.PDI} مساءً"),
])
def test_dates_are_in_aden_time_with_local_names_and_digits(language, expected):
    assert localize.when(EVENING, language) == expected


def test_morning_and_short_dates():
    morning = datetime(2026, 1, 1, 6, 5, tzinfo=timezone.utc)  # 09:05 Aden, a Thursday
    assert localize.when(morning, "en") == "Thursday 1 January, 9:05 AM"
    assert localize.when(morning, "ar").endswith("صباحاً")
    assert localize.short_date(EVENING, "en") == "Sat 5 Dec"
    assert localize.short_date(EVENING, "ar") == "السبت ٥ ديسمبر"


def test_an_events_own_time_zone_is_used():
    assert localize.when(EVENING, "en", "Asia/Riyadh") == "Saturday 5 December, 7:30 PM"
    assert localize.when(EVENING, "en", "UTC") == "Saturday 5 December, 4:30 PM"
    assert localize.when(EVENING, "en", "Not/AZone") == "Saturday 5 December, 7:30 PM"  # falls back to Aden


@pytest.mark.parametrize("yer, language, expected", [
    (5000, "en", "5,000 YER"), (5000, "ar", "٥٬٠٠٠ ريال يمني"), (0, "en", "Free"), (0, "ar", "مجاناً"),
    (1250000, "en", "1,250,000 YER"), (1250000, "ar", "١٬٢٥٠٬٠٠٠ ريال يمني"),
])
def test_prices_in_yemeni_rials(yer, language, expected):
    assert localize.price(yer, language) == expected


@pytest.mark.parametrize("n, en, ar", [
    (1, "1 seat", "مقعد واحد"), (2, "2 seats", "مقعدان"), (3, "3 seats", "٣ مقاعد"), (11, "11 seats", "١١ مقعداً"),
])
def test_seat_counts_agree_with_the_number(n, en, ar):
    assert localize.seats(n, "en") == en
    assert localize.seats(n, "ar") == ar


def test_codes_and_urls_are_isolated_only_in_arabic():
    assert localize.code("AB12CD", "en") == "*AB12CD*"
    assert localize.code("AB12CD", "ar") == f"*{localize.LRI}AB12CD{localize.PDI}*"
    assert localize.isolate("https://x.y/1", "en") == "https://x.y/1"
    assert localize.map_link(12.7797, 45.0367) == "https://maps.google.com/?q=12.779700,45.036700"
    assert localize.map_link(None, 45.0) is None


@pytest.mark.parametrize("text, seats", [
    ("book 2 seats for the jazz night", 2), ("two tickets please", 2), ("I need 3 places", 3),
    ("ابي احجز تذكرتين لحفلة العود", 2), ("احجز لي ثلاث مقاعد", 3), ("احجز ٤ تذاكر", 4),
    ("register me for the concert", None), ("the 7pm concert on the 12th", None),
])
def test_seat_counts_in_free_text(text, seats):
    assert parse_seats(text) == seats
