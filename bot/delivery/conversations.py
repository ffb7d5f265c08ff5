"""The conversation a message belongs to: the user's active one, or a new one after an idle gap.

Used on the way in (intake) and for messages the bot starts itself (reminders, broadcasts). Safe under
concurrency: a partial unique index allows one `active` conversation per user, so concurrent first messages
share one conversation. The statements are portable SQL (PostgreSQL and SQLite), built once.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Integer, text
from sqlalchemy.engine import Connection

from bot.core.sql import as_utc, prebuilt
from models import ConversationParticipant
from models.base import UTCDateTime

ACTIVE_CONVERSATION = text("SELECT id, last_message_at FROM conversations "
                           "WHERE user_id = :user_id AND status = 'active'").columns(id=Integer,
                                                                                      last_message_at=UTCDateTime)
CLOSE_CONVERSATION = prebuilt("UPDATE conversations SET status = 'closed', closed_at = :now "
                              "WHERE id = :id AND status = 'active'", "now")
OPEN_CONVERSATION = prebuilt("""
    INSERT INTO conversations (user_id, channel, status, started_at, last_message_at, message_count,
                               total_tokens, total_cost_usd)
    VALUES (:user_id, 'whatsapp', 'active', :now, :now, 0, 0, 0)
    ON CONFLICT (user_id) WHERE status = 'active' DO NOTHING
    RETURNING id""", "now")
# Core's insert batches many rows into one INSERT (insertmanyvalues): one round trip however many conversations
ADD_PARTICIPANTS = ConversationParticipant.__table__.insert()


def active_conversation(connection: Connection, user_id: int, now: datetime, idle_gap: timedelta) -> int:
    """The user's active conversation id: the current one, or a new one after `idle_gap` of silence (the idle
    one is closed)."""
    row = connection.execute(ACTIVE_CONVERSATION, {"user_id": user_id}).first()
    if row is not None and as_utc(row.last_message_at) >= now - idle_gap:
        return row.id
    if row is not None:
        connection.execute(CLOSE_CONVERSATION, {"id": row.id, "now": now})
    created = connection.execute(OPEN_CONVERSATION, {"user_id": user_id, "now": now}).scalar()
    if created is None:  # another delivery of this user opened it a moment ago
        return connection.execute(ACTIVE_CONVERSATION, {"user_id": user_id}).first().id
    add_participants(connection, [(created, user_id, now)])
    return created


def add_participants(connection: Connection, opened: list[tuple[int, int, datetime]]) -> None:
    """The user and the bot as participants of each newly opened (conversation id, user id, when)."""
    connection.execute(ADD_PARTICIPANTS, [{"conversation_id": conversation_id, "user_id": member, "role": role,
                                           "joined_at": at}
                                          for conversation_id, user_id, at in opened
                                          for member, role in ((user_id, "attendee"), (None, "bot"))])
