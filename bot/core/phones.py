"""Phone numbers in E.164, the form every user is stored under."""
from __future__ import annotations

import functools

import phonenumbers

from bot.core.errors import MalformedRequest

WHATSAPP_PREFIX = "whatsapp:"


@functools.lru_cache(maxsize=65536)
def to_e164(address: str) -> str:
    """`whatsapp:+967 712-345-678` → `+967712345678`; raises MalformedRequest when it is no phone number."""
    raw = address[len(WHATSAPP_PREFIX):] if address.startswith(WHATSAPP_PREFIX) else address
    raw = raw.strip()
    if not raw.startswith("+"):
        raw = "+" + raw
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException as exc:
        raise MalformedRequest(f"From is not a phone number: {address[:40]!r}") from exc
    if not phonenumbers.is_possible_number(number):
        raise MalformedRequest(f"From is not a possible phone number: {address[:40]!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
