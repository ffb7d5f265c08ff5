"""The bot's one internal message type, independent of the channel it came through."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Attachment:
    kind: str  # media | location
    url: str | None = None
    content_type: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class InboundTurn:
    """One message from a user, as every later stage sees it.

    Attributes:
        channel_message_id: the channel's id for the message (Twilio's MessageSid), used to dedupe.
        phone: the sender in E.164 (`+967712345678`).
    """

    channel_message_id: str
    phone: str
    body: str
    message_type: str = "text"
    wa_id: str | None = None
    profile_name: str | None = None
    attachments: tuple[Attachment, ...] = ()
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class OutboundMessage:
    """One message to send: free-form text, optionally media, or an approved template."""

    to_phone: str
    body: str = ""
    media_urls: tuple[str, ...] = ()
    content_sid: str | None = None
    content_variables: str | None = None
    persistent_action: tuple[str, ...] = ()  # e.g. ("geo:12.7855,45.0187|Aden Hall",): a WhatsApp location pin
    ref: int | None = None  # our id for the message: its status callbacks carry it (`?m=`), to find it by


@dataclass(frozen=True)
class SendResult:
    provider_id: str
    status: str
