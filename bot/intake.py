"""Stores an inbound turn: the user by phone, their active conversation, the message and its attachments.

Every step is safe under concurrent deliveries: the user is an upsert on the unique phone, the conversation
an insert guarded by a one-active-per-user unique index, and the message an `INSERT … ON CONFLICT DO NOTHING`
on the unique MessageSid, so N deliveries of one MessageSid store one turn and enqueue one job.

This is the webhook's hot path, so the statements are built once, as SQL that PostgreSQL and SQLite both
accept, and run on a plain connection: building SQLAlchemy insert constructs per request cost more CPU than
the database work itself (measured in docs/benchmarks.md).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, bindparam, text
from sqlalchemy.engine import Connection

from bot.sql import as_utc
from bot.turns import InboundTurn
from models.base import JSONType, UTCDateTime, utcnow

log = logging.getLogger(__name__)


def _sql(statement: str, *typed: str, json: tuple[str, ...] = ()):
    params = [bindparam(name, type_=UTCDateTime) for name in typed]
    params += [bindparam(name, type_=JSONType) for name in json]
    return text(statement).bindparams(*params)


UPSERT_USER = _sql("""
    INSERT INTO users (phone, wa_id, display_name, last_inbound_at, role, status, language_explicit,
                       created_at, updated_at)
    VALUES (:phone, :wa_id, :display_name, :now, 'attendee', 'active', false, :now, :now)
    ON CONFLICT (phone) DO UPDATE SET last_inbound_at = excluded.last_inbound_at,
        display_name = COALESCE(excluded.display_name, users.display_name),
        wa_id = COALESCE(excluded.wa_id, users.wa_id)
    RETURNING id""", "now")
ACTIVE_CONVERSATION = text("SELECT id, last_message_at FROM conversations "
                           "WHERE user_id = :user_id AND status = 'active'").columns(id=Integer,
                                                                                      last_message_at=UTCDateTime)
CLOSE_CONVERSATION = _sql("UPDATE conversations SET status = 'closed', closed_at = :now "
                          "WHERE id = :id AND status = 'active'", "now")
OPEN_CONVERSATION = _sql("""
    INSERT INTO conversations (user_id, channel, status, started_at, last_message_at, message_count,
                               total_tokens, total_cost_usd)
    VALUES (:user_id, 'whatsapp', 'active', :now, :now, 0, 0, 0)
    ON CONFLICT (user_id) WHERE status = 'active' DO NOTHING
    RETURNING id""", "now")
ADD_PARTICIPANTS = _sql("""
    INSERT INTO conversation_participants (conversation_id, user_id, role, joined_at)
    VALUES (:conversation_id, :user_id, 'attendee', :now), (:conversation_id, NULL, 'bot', :now)""", "now")
INSERT_MESSAGE = _sql("""
    INSERT INTO messages (conversation_id, user_id, direction, role, body, message_type, status, status_rank,
                          twilio_sid, part_index, part_count, metadata, created_at, updated_at)
    VALUES (:conversation_id, :user_id, 'inbound', 'user', :body, :message_type, 'received', 0,
            :sid, 0, 1, :meta, :now, :now)
    ON CONFLICT (twilio_sid) DO NOTHING
    RETURNING id""", "now", json=("meta",))
INSERT_ATTACHMENT = _sql("""
    INSERT INTO message_attachments (message_id, kind, url, content_type, latitude, longitude, address, label,
                                     created_at)
    VALUES (:message_id, :kind, :url, :content_type, :latitude, :longitude, :address, :label, :now)""", "now")
COUNT_MESSAGE = _sql("UPDATE conversations SET last_message_at = :now, message_count = message_count + 1 "
                     "WHERE id = :id", "now")


@dataclass(frozen=True)
class StoredTurn:
    message_id: int
    user_id: int
    conversation_id: int


def store_inbound(connection: Connection, turn: InboundTurn, idle_gap: timedelta,
                  now: datetime | None = None) -> StoredTurn | None:
    """Stores the turn in the connection's transaction (the caller commits).

    Args:
        connection: a connection inside a transaction (`engine.begin()`).
        turn: the parsed inbound message.
        idle_gap: silence after which the next message opens a new conversation.
        now: when the webhook received it (the buffered intake stores it a moment later); default now.
    Returns:
        The stored ids, or None when this MessageSid was stored before (a duplicate delivery).
    """
    now = now or utcnow()
    user_id = connection.execute(UPSERT_USER, {"phone": turn.phone, "wa_id": turn.wa_id,
                                               "display_name": turn.profile_name, "now": now}).scalar_one()
    conversation_id = active_conversation(connection, user_id, now, idle_gap)
    message_id = connection.execute(INSERT_MESSAGE, {
        "conversation_id": conversation_id, "user_id": user_id, "body": turn.body,
        "message_type": turn.message_type, "sid": turn.channel_message_id, "meta": turn.meta or None,
        "now": now}).scalar()
    if message_id is None:
        log.info("duplicate delivery ignored message_sid=%s", turn.channel_message_id)
        return None
    if turn.attachments:
        connection.execute(INSERT_ATTACHMENT, [
            {"message_id": message_id, "kind": a.kind, "url": a.url, "content_type": a.content_type,
             "latitude": a.latitude, "longitude": a.longitude, "address": a.address, "label": a.label,
             "now": now} for a in turn.attachments])
    connection.execute(COUNT_MESSAGE, {"id": conversation_id, "now": now})
    return StoredTurn(message_id=message_id, user_id=user_id, conversation_id=conversation_id)


def active_conversation(connection: Connection, user_id: int, now: datetime, idle_gap: timedelta) -> int:
    """The user's active conversation id: the current one, or a new one after `idle_gap` of silence.

    Safe under concurrency (the one-active-per-user index): used by intake and by messages the bot starts.
    """
    row = connection.execute(ACTIVE_CONVERSATION, {"user_id": user_id}).first()
    if row is not None and as_utc(row.last_message_at) >= now - idle_gap:
        return row.id
    if row is not None:
        connection.execute(CLOSE_CONVERSATION, {"id": row.id, "now": now})
    created = connection.execute(OPEN_CONVERSATION, {"user_id": user_id, "now": now}).scalar()
    if created is None:  # another delivery of this user opened it a moment ago
        return connection.execute(ACTIVE_CONVERSATION, {"user_id": user_id}).first().id
    connection.execute(ADD_PARTICIPANTS, {"conversation_id": created, "user_id": user_id, "now": now})
    return created
