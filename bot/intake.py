"""Stores an inbound turn: the user by phone, their active conversation, the message and its attachments.

Every step is safe under concurrent deliveries: the user is an upsert on the unique phone, the conversation
an insert guarded by a one-active-per-user unique index, and the message an `INSERT … ON CONFLICT DO NOTHING`
on the unique MessageSid, so N deliveries of one MessageSid store one turn and enqueue one job.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.sql import as_utc, insert_for
from bot.turns import InboundTurn
from models import Conversation, ConversationParticipant, Message, MessageAttachment, User
from models.base import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredTurn:
    message_id: int
    user_id: int
    conversation_id: int


def store_inbound(session: Session, turn: InboundTurn, idle_gap: timedelta) -> StoredTurn | None:
    """Stores the turn and commits.

    Args:
        session: a fresh session; committed here.
        turn: the parsed inbound message.
        idle_gap: silence after which the next message opens a new conversation.
    Returns:
        The stored ids, or None when this MessageSid was stored before (a duplicate delivery).
    """
    now = utcnow()
    user_id = _upsert_user(session, turn, now)
    conversation_id = _active_conversation(session, user_id, now, idle_gap)
    message_id = session.execute(
        insert_for(session, Message.__table__)
        .values(conversation_id=conversation_id, user_id=user_id, direction="inbound", role="user",
                body=turn.body, message_type=turn.message_type, status="received", status_rank=0,
                twilio_sid=turn.channel_message_id, created_at=now, updated_at=now,
                **{"metadata": turn.meta or None})
        .on_conflict_do_nothing(index_elements=["twilio_sid"])
        .returning(Message.id)
    ).scalar()
    if message_id is None:
        session.rollback()
        log.info("duplicate delivery ignored message_sid=%s", turn.channel_message_id)
        return None
    if turn.attachments:
        session.execute(MessageAttachment.__table__.insert(), [
            {"message_id": message_id, "kind": a.kind, "url": a.url, "content_type": a.content_type,
             "latitude": a.latitude, "longitude": a.longitude, "address": a.address, "label": a.label,
             "created_at": now}
            for a in turn.attachments])
    session.execute(update(Conversation).where(Conversation.id == conversation_id)
                    .values(last_message_at=now, message_count=Conversation.message_count + 1))
    session.commit()
    return StoredTurn(message_id=message_id, user_id=user_id, conversation_id=conversation_id)


def _upsert_user(session: Session, turn: InboundTurn, now: datetime) -> int:
    table = User.__table__
    stmt = insert_for(session, table).values(phone=turn.phone, wa_id=turn.wa_id, display_name=turn.profile_name,
                                             last_inbound_at=now, created_at=now, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=["phone"],
        set_={"last_inbound_at": stmt.excluded.last_inbound_at,
              "display_name": func.coalesce(stmt.excluded.display_name, table.c.display_name),
              "wa_id": func.coalesce(stmt.excluded.wa_id, table.c.wa_id)},
    )
    return session.execute(stmt.returning(table.c.id)).scalar_one()


def _active_conversation(session: Session, user_id: int, now: datetime, idle_gap: timedelta) -> int:
    row = session.execute(select(Conversation.id, Conversation.last_message_at)
                          .where(Conversation.user_id == user_id, Conversation.status == "active")).first()
    if row is not None and as_utc(row.last_message_at) >= now - idle_gap:
        return row.id
    if row is not None:
        session.execute(update(Conversation)
                        .where(Conversation.id == row.id, Conversation.status == "active")
                        .values(status="closed", closed_at=now))
    created = session.execute(
        insert_for(session, Conversation.__table__)
        .values(user_id=user_id, status="active", started_at=now, last_message_at=now, message_count=0)
        .on_conflict_do_nothing(index_elements=["user_id"], index_where=Conversation.status == "active")
        .returning(Conversation.id)
    ).scalar()
    if created is None:  # another delivery of this user opened it a moment ago
        return session.execute(select(Conversation.id).where(Conversation.user_id == user_id,
                                                             Conversation.status == "active")).scalar_one()
    session.execute(ConversationParticipant.__table__.insert(), [
        {"conversation_id": created, "user_id": user_id, "role": "attendee", "joined_at": now},
        {"conversation_id": created, "user_id": None, "role": "bot", "joined_at": now}])
    return created
