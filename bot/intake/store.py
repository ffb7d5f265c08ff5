"""Storing one inbound turn: the user by phone, their active conversation, the message and its attachments.

Every step is safe under concurrent deliveries: the user is an upsert on the unique phone, the conversation
an insert guarded by a one-active-per-user unique index, and the message an `INSERT … ON CONFLICT DO NOTHING`
on the unique MessageSid, so N deliveries of one MessageSid store one turn and enqueue one job. The statements
are those of a batch (`bot.intake.rows`), with one row: a turn is stored one way, alone or in a batch.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from bot.channels.messages import InboundTurn
from bot.delivery.conversations import active_conversation
from bot.intake.rows import rows_for
from models.base import utcnow

log = logging.getLogger(__name__)


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
    rows = rows_for(connection)
    user_id = rows.upsert_users(connection, [user_row(turn.phone, [(turn, now)])])[turn.phone]
    conversation_id = active_conversation(connection, user_id, now, idle_gap)
    stored = rows.insert_messages(connection, [message_row(conversation_id, user_id, turn, now)])
    message_id = stored.get(turn.channel_message_id)
    if message_id is None:
        log.info("duplicate delivery ignored message_sid=%s", turn.channel_message_id)
        return None
    rows.insert_attachments(connection, attachment_rows(message_id, turn, now))
    rows.count_messages(connection, [(conversation_id, 1, now)])
    return StoredTurn(message_id=message_id, user_id=user_id, conversation_id=conversation_id)


def user_row(phone: str, turns: list[tuple[InboundTurn, datetime]]) -> tuple:
    """(phone, wa_id, display name, last received, first received) from one user's turns in arrival order: the
    newest wa_id and profile name they carry."""
    wa_id = next((t.wa_id for t, _ in reversed(turns) if t.wa_id), None)
    name = next((t.profile_name for t, _ in reversed(turns) if t.profile_name), None)
    return phone, wa_id, name, max(at for _, at in turns), turns[0][1]


def message_row(conversation_id: int, user_id: int, turn: InboundTurn, at: datetime) -> tuple:
    return (conversation_id, user_id, turn.body, turn.message_type, turn.channel_message_id, turn.meta or None, at)


def attachment_rows(message_id: int, turn: InboundTurn, at: datetime) -> list[dict]:
    return [{"message_id": message_id, "kind": a.kind, "url": a.url, "content_type": a.content_type,
             "latitude": a.latitude, "longitude": a.longitude, "address": a.address, "label": a.label,
             "created_at": at}
            for a in turn.attachments]
