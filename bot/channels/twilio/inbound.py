"""Twilio's inbound WhatsApp form as an `InboundTurn`: the sender in E.164 (or its business-scoped id), the
text, media and locations, and the fields worth keeping (button payloads, the replied-to SID, referrals)."""
from __future__ import annotations

import logging
import math

from bot.channels.messages import Attachment, InboundTurn
from bot.core.errors import MalformedRequest
from bot.core.phones import user_address

log = logging.getLogger(__name__)

# what the turn keeps of Twilio's form beyond the text: quick-reply buttons and list replies (routed by their
# payload), the replied-to message, ads referrals, and the channel's identifiers
KEPT_FIELDS = ("ButtonText", "ButtonPayload", "ListId", "ListTitle", "OriginalRepliedMessageSid",
               "OriginalRepliedMessageSender", "ReferralSourceUrl", "ReferralHeadline", "ReferralBody",
               "ReferralSourceType", "ReferralSourceId", "ReferralCtwaClid", "NumSegments", "Forwarded",
               "FrequentlyForwarded", "ChannelMetadata", "MessagingServiceSid", "ExternalUserId")


def clean_text(value: str | None) -> str:
    """PostgreSQL text cannot hold NUL; everything else (RTL marks, emoji, quotes) is kept as sent."""
    return (value or "").replace("\x00", "")


def _coordinate(value: str | None, bound: float) -> float | None:
    """A finite coordinate within ±bound, else None (no NaN or Infinity reaches the database or JSON)."""
    try:
        number = float(value) if value not in (None, "") else None
    except ValueError:
        return None
    if number is None or not math.isfinite(number) or abs(number) > bound:
        return None
    return number


def _attachments(form) -> tuple[Attachment, ...]:
    found = []
    try:
        count = min(int(form.get("NumMedia") or 0), 10)
    except ValueError:
        count = 0
    for i in range(count):
        url = form.get(f"MediaUrl{i}")
        if url:
            found.append(Attachment(kind="media", url=clean_text(url),
                                    content_type=clean_text(form.get(f"MediaContentType{i}")) or None))
    lat, lng = _coordinate(form.get("Latitude"), 90.0), _coordinate(form.get("Longitude"), 180.0)
    if lat is not None and lng is not None:
        found.append(Attachment(kind="location", latitude=lat, longitude=lng,
                                address=clean_text(form.get("Address")) or None,
                                label=clean_text(form.get("Label")) or None))
    return tuple(found)


def _message_type(form, attachments: tuple[Attachment, ...]) -> str:
    declared = clean_text(form.get("MessageType")).lower()
    if declared:
        return declared[:20]
    if any(a.kind == "location" for a in attachments):
        return "location"
    if attachments:
        return (attachments[0].content_type or "media").split("/")[0][:20]
    return "text"


def _fitted(form, name: str, limit: int, meta: dict) -> str | None:
    """The field cut to its column's `limit`; a longer value is kept whole in `meta` under its Twilio name."""
    value = clean_text(form.get(name))
    if len(value) > limit:
        meta[name] = value
    return value[:limit] or None


def parse_inbound(form) -> InboundTurn:
    """Builds the turn from Twilio's form; raises MalformedRequest when From or MessageSid is missing."""
    sid = clean_text(form.get("MessageSid") or form.get("SmsMessageSid")).strip()
    sender = clean_text(form.get("From")).strip()
    if not sid or not sender:
        raise MalformedRequest("a message webhook needs From and MessageSid")
    if len(sid) > 64:
        raise MalformedRequest("MessageSid is too long")
    attachments = _attachments(form)
    meta = {k: clean_text(form.get(k)) for k in KEPT_FIELDS if form.get(k)}
    return InboundTurn(channel_message_id=sid, phone=user_address(sender), body=clean_text(form.get("Body")),
                       message_type=_message_type(form, attachments),
                       wa_id=_fitted(form, "WaId", 255, meta),
                       profile_name=_fitted(form, "ProfileName", 255, meta),
                       attachments=attachments, meta=meta)


