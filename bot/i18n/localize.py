"""Dates, prices and numbers as an Aden attendee reads them, and RTL-safe embedding of Latin runs.

Arabic replies use Arabic month and day names and Arabic-Indic digits (٠١٢٣٤٥٦٧٨٩ with ٬ for thousands).
Ticket codes, numbers, times and URLs inside Arabic text are wrapped in Unicode direction isolates so a
right-to-left paragraph cannot reorder them ("ABC123" stays "ABC123", "7:30" does not become "30:7").
"""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.i18n import catalog

LRI, FSI, PDI = "\u2066", "\u2068", "\u2069"  # left-to-right isolate, first-strong isolate, pop isolate
ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
ARABIC_THOUSANDS = "\u066c"  # ٬
DEFAULT_TIMEZONE = "Asia/Aden"

MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December")
MONTHS_AR = ("يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو", "يوليو", "أغسطس", "سبتمبر", "أكتوبر", "نوفمبر",
             "ديسمبر")
DAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAYS_AR = ("الاثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد")


def isolate(text: str, language: str, ltr: bool = True) -> str:
    """`text` wrapped in a direction isolate when it sits inside an Arabic sentence; unchanged in English."""
    if language != "ar" or not text:
        return text
    return f"{LRI if ltr else FSI}{text}{PDI}"


def digits(text: str, language: str) -> str:
    """ASCII digits as Arabic-Indic digits in Arabic replies."""
    return text.translate(ARABIC_DIGITS) if language == "ar" else text


def number(value: int, language: str) -> str:
    """1234 → "1,234" in English, "١٬٢٣٤" in Arabic."""
    grouped = f"{value:,}"
    if language != "ar":
        return grouped
    return digits(grouped.replace(",", ARABIC_THOUSANDS), "ar")


def price(yer: int, language: str) -> str:
    """5000 → "5,000 YER" / "٥٬٠٠٠ ريال يمني"; 0 → free."""
    if yer <= 0:
        return catalog.say("price_free", language)
    return catalog.say("price_yer", language, amount=number(yer, language))


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def when(moment: datetime, language: str, timezone: str | None = None) -> str:
    """A moment in the event's local time: "Saturday 6 December, 7:30 PM" / "السبت ٦ ديسمبر، ٧:٣٠ مساءً"."""
    local = moment.astimezone(zone(timezone))
    separator = "، " if language == "ar" else ", "
    return f"{day(local.date(), language)}{separator}{clock(moment, language, timezone)}"


def clock(moment: datetime, language: str, timezone: str | None = None) -> str:
    """The local time of day: "7:30 PM" / "٧:٣٠ مساءً" (the digits isolated inside Arabic text)."""
    local = moment.astimezone(zone(timezone))
    hour12 = local.hour % 12 or 12
    if language == "ar":
        period = "صباحاً" if local.hour < 12 else "مساءً"
        return f"{isolate(digits(f'{hour12}:{local.minute:02d}', 'ar'), 'ar')} {period}"
    return f"{hour12}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"


def day(value: date, language: str) -> str:
    """A calendar day: "Saturday 6 December" / "السبت ٦ ديسمبر"."""
    if language == "ar":
        return f"{DAYS_AR[value.weekday()]} {digits(str(value.day), 'ar')} {MONTHS_AR[value.month - 1]}"
    return f"{DAYS_EN[value.weekday()]} {value.day} {MONTHS_EN[value.month - 1]}"


def short_date(moment: datetime, language: str, timezone: str | None = None) -> str:
    """For lists: "Sat 6 Dec" / "السبت ٦ ديسمبر"."""
    local = moment.astimezone(zone(timezone))
    if language == "ar":
        return f"{DAYS_AR[local.weekday()]} {digits(str(local.day), 'ar')} {MONTHS_AR[local.month - 1]}"
    return f"{DAYS_EN[local.weekday()][:3]} {local.day} {MONTHS_EN[local.month - 1][:3]}"


def map_link(latitude: float | None, longitude: float | None) -> str | None:
    if latitude is None or longitude is None:
        return None
    return f"https://maps.google.com/?q={latitude:.6f},{longitude:.6f}"


def code(value: str, language: str) -> str:
    """A ticket code (or any Latin token) as it must appear: bold, and isolated inside Arabic text (inside
    the asterisks, which WhatsApp only reads as bold next to a space or punctuation)."""
    return f"*{isolate(value, language)}*"


def seats(n: int, language: str) -> str:
    """"1 seat", "3 seats" / "مقعد واحد", "مقعدان", "٣ مقاعد", "١١ مقعداً" (Arabic counts agree with the number)."""
    if n == 1:
        return catalog.say("seats_1", language)
    if n == 2:
        return catalog.say("seats_2", language)
    key = "seats_few" if 3 <= n <= 10 else "seats_many"
    return catalog.say(key, language, n=number(n, language))
