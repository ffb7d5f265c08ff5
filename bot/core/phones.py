"""Users' WhatsApp addresses: a phone number in E.164, or a business-scoped user id for a sender WhatsApp
identifies without a phone number (`whatsapp:IN.2081…`, sent with `ExternalUserId`); replies go to the same
address."""
from __future__ import annotations

import functools
import re

import phonenumbers

from bot.core.errors import MalformedRequest

WHATSAPP_PREFIX = "whatsapp:"
# a business-scoped user id: a two-letter region, a dot, then letters and digits (`IN.2081…`, `US.13491…`)
_SCOPED_ID = re.compile(r"[A-Z]{2}\.[A-Za-z0-9]{6,200}")


def user_address(address: str) -> str:
    """The address a user is stored and answered under: E.164 for a phone number, the business-scoped id as
    sent for a sender without one; raises MalformedRequest for anything else."""
    raw = (address[len(WHATSAPP_PREFIX):] if address.startswith(WHATSAPP_PREFIX) else address).strip()
    if _SCOPED_ID.fullmatch(raw):
        return raw
    return to_e164(address)



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


def mask(phone: str) -> str:
    """+967712345678 → +967••••••678: enough to tell attendees apart, not to call them."""
    if len(phone) <= 7:
        return "•" * len(phone)
    return phone[:4] + "•" * (len(phone) - 7) + phone[-3:]
