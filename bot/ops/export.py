"""A user's data as one JSON-ready document: `users export` and data-access requests."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.sql import as_utc
from bot.delivery import consent
from bot.dialog.moderation import bans
from models import Conversation, Event, FlaggedContent, Message, MessageAttachment, Registration, User


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def export_user(session: Session, user: User) -> dict:
    conversations = list(session.scalars(select(Conversation).where(Conversation.user_id == user.id)
                                         .order_by(Conversation.id)))
    messages = list(session.scalars(select(Message).where(Message.user_id == user.id).order_by(Message.id)))
    attachments = defaultdict(list)
    ids = [m.id for m in messages]
    if ids:
        for a in session.scalars(select(MessageAttachment).where(MessageAttachment.message_id.in_(ids))
                                 .order_by(MessageAttachment.id)):
            attachments[a.message_id].append(_attachment(a))
    by_conversation = defaultdict(list)
    for m in messages:
        by_conversation[m.conversation_id].append(_message(m, attachments[m.id]))
    return {
        "user": {"phone": user.phone, "wa_id": user.wa_id, "display_name": user.display_name,
                 "name_en": user.name_en, "name_ar": user.name_ar, "preferred_language": user.preferred_language,
                 "role": user.role, "status": user.status, "created_at": _iso(user.created_at),
                 "last_inbound_at": _iso(user.last_inbound_at), "opted_out_at": _iso(user.opted_out_at)},
        "consent": consent.history(session, user),
        "registrations": _registrations(session, user),
        "bans": bans.history(session, user),
        "flagged": _flagged(session, user),
        "handoff_requests": [{"conversation_id": c.id, "requested_at": (c.context or {})["handoff_requested_at"]}
                             for c in conversations if (c.context or {}).get("handoff_requested_at")],
        "conversations": [{"id": c.id, "status": c.status, "channel": c.channel, "started_at": _iso(c.started_at),
                           "last_message_at": _iso(c.last_message_at), "message_count": c.message_count,
                           "messages": by_conversation[c.id]} for c in conversations],
    }


def _registrations(session: Session, user: User) -> list[dict]:
    """The user's tickets, every status, with their event's code."""
    rows = session.execute(select(Registration, Event.code).join(Event, Event.id == Registration.event_id)
                           .where(Registration.user_id == user.id).order_by(Registration.id)).all()
    return [{"event_code": code, "ticket_code": r.ticket_code, "seats": r.seats, "status": r.status,
             "source": r.source, "created_at": _iso(r.created_at), "cancelled_at": _iso(r.cancelled_at),
             "reminder_status": r.reminder_status} for r, code in rows]


def _flagged(session: Session, user: User) -> list[dict]:
    """The user's messages the moderation rules flagged, and what became of the review."""
    rows = session.scalars(select(FlaggedContent).where(FlaggedContent.user_id == user.id).order_by(FlaggedContent.id))
    return [{"message_id": f.message_id, "action": f.action, "matched": f.matched, "status": f.status,
             "created_at": _iso(f.created_at), "reviewed_at": _iso(f.reviewed_at)} for f in rows]


def _message(m: Message, attachments: list[dict]) -> dict:
    return {"id": m.id, "direction": m.direction, "role": m.role, "body": m.body, "message_type": m.message_type,
            "status": m.status, "twilio_sid": m.twilio_sid, "error_code": m.error_code,
            "error_message": m.error_message, "route": m.route, "model": m.model,
            "prompt_tokens": m.prompt_tokens, "completion_tokens": m.completion_tokens,
            "latency_ms": m.latency_ms, "part": [m.part_index + 1, m.part_count] if m.direction == "outbound" else None,
            "reply_to_id": m.reply_to_id, "created_at": _iso(m.created_at), "metadata": m.meta or {},
            "attachments": attachments}


def _attachment(a: MessageAttachment) -> dict:
    return {"kind": a.kind, "url": a.url, "content_type": a.content_type, "latitude": a.latitude,
            "longitude": a.longitude, "address": a.address, "label": a.label}
