"""A ticket as a QR code for the door: the code of a `https://wa.me/<bot number>?text=/checkin%20CODE` link, so an
organizer scans it with the phone camera, WhatsApp opens with the command typed, and one tap checks the attendee
in (the console's /checkin). Rendered as PNG with segno (pure Python)."""
from __future__ import annotations

import io
from urllib.parse import quote

import segno

TICKET_PURPOSE = "ticket-qr"
TICKET_LINK_DAYS = 60  # how long a ticket image link stays valid


def checkin_link(bot_number: str, ticket_code: str) -> str:
    """The wa.me link that opens a chat with the bot with `/checkin CODE` typed."""
    digits = "".join(ch for ch in bot_number if ch.isdigit())
    return f"https://wa.me/{digits}?text={quote(f'/checkin {ticket_code}')}"


def qr_png(link: str, scale: int = 8) -> bytes:
    image = io.BytesIO()
    segno.make(link, error="m").save(image, kind="png", scale=scale, border=4)
    return image.getvalue()
