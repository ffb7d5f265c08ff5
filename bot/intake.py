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

from sqlalchemy import Integer, bindparam, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bot.sql import as_utc
from bot.turns import InboundTurn
from models import Conversation, ConversationParticipant, Message, MessageAttachment, User
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
COUNT_MESSAGES = _sql("UPDATE conversations SET last_message_at = :now, message_count = message_count + :n "
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


def store_inbound_batch(connection: Connection, turns: list[tuple[InboundTurn, datetime]],
                        idle_gap: timedelta) -> None:
    """Stores many turns, each with the time it was received, in the caller's transaction: the same rows as
    `store_inbound` for each in turn, in about six statements for the whole batch instead of four to six per
    turn (the buffered intake's `intake` job; docs/benchmarks.md).

    Each user's turns keep their order. A user whose turns a conversation's idle gap splits (turns buffered
    for long while PostgreSQL was down), or whose new conversation a concurrent delivery opened first, is
    stored turn by turn with `store_inbound`, after the rest.
    """
    if not turns:
        return
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    users, conversations, messages = User.__table__, Conversation.__table__, Message.__table__
    by_phone: dict[str, list[tuple[InboundTurn, datetime]]] = {}
    for turn, at in turns:
        by_phone.setdefault(turn.phone, []).append((turn, at))

    rows = []
    for phone in sorted(by_phone):  # one lock order for every batch
        mine = by_phone[phone]
        rows.append({"phone": phone, "wa_id": next((t.wa_id for t, _ in reversed(mine) if t.wa_id), None),
                     "display_name": next((t.profile_name for t, _ in reversed(mine) if t.profile_name), None),
                     "last_inbound_at": max(at for _, at in mine), "role": "attendee", "status": "active",
                     "language_explicit": False, "created_at": mine[0][1], "updated_at": mine[0][1]})
    upsert = insert(users).values(rows)
    upsert = upsert.on_conflict_do_update(index_elements=[users.c.phone], set_={
        "last_inbound_at": upsert.excluded.last_inbound_at,
        "display_name": func.coalesce(upsert.excluded.display_name, users.c.display_name),
        "wa_id": func.coalesce(upsert.excluded.wa_id, users.c.wa_id)}).returning(users.c.id, users.c.phone)
    user_of = {phone: user_id for user_id, phone in connection.execute(upsert)}

    active = {row.user_id: row for row in connection.execute(
        select(conversations.c.user_id, conversations.c.id, conversations.c.last_message_at)
        .where(conversations.c.status == "active", conversations.c.user_id.in_(list(user_of.values()))))}
    conversation_of: dict[int, int] = {}
    to_open: list[int] = []
    one_by_one: set[str] = set()
    for phone, mine in by_phone.items():
        user_id = user_of[phone]
        times = [at for _, at in mine]
        if any(later - earlier > idle_gap for earlier, later in zip(times, times[1:])):
            one_by_one.add(phone)
        elif user_id in active and as_utc(active[user_id].last_message_at) >= times[0] - idle_gap:
            conversation_of[user_id] = active[user_id].id
        elif user_id in active:
            one_by_one.add(phone)  # closes the idle conversation and opens the next: the single-turn path
        else:
            to_open.append(user_id)
    if to_open:
        first_at = {user_of[phone]: mine[0][1] for phone, mine in by_phone.items()}
        opened = insert(conversations).values([
            {"user_id": user_id, "channel": "whatsapp", "status": "active", "started_at": first_at[user_id],
             "last_message_at": first_at[user_id], "message_count": 0, "total_tokens": 0, "total_cost_usd": 0}
            for user_id in to_open])
        opened = opened.on_conflict_do_nothing(index_elements=[conversations.c.user_id],
                                               index_where=conversations.c.status == "active")
        created = dict(connection.execute(opened.returning(conversations.c.user_id, conversations.c.id)).all())
        if created:
            connection.execute(ConversationParticipant.__table__.insert(), [
                {"conversation_id": conversation_id, "user_id": member, "role": role,
                 "joined_at": first_at[user_id]}
                for user_id, conversation_id in created.items()
                for member, role in ((user_id, "attendee"), (None, "bot"))])
        conversation_of.update(created)
        one_by_one.update(phone for phone in by_phone if user_of[phone] in to_open
                          and user_of[phone] not in created)  # a concurrent delivery opened it first

    batch = [(turn, at) for turn, at in turns if turn.phone not in one_by_one]
    if batch:
        inserted = insert(messages).values([
            {"conversation_id": conversation_of[user_of[turn.phone]], "user_id": user_of[turn.phone],
             "direction": "inbound", "role": "user", "body": turn.body, "message_type": turn.message_type,
             "status": "received", "status_rank": 0, "twilio_sid": turn.channel_message_id, "part_index": 0,
             "part_count": 1, "metadata": turn.meta or None, "created_at": at, "updated_at": at}
            for turn, at in batch])
        inserted = inserted.on_conflict_do_nothing(index_elements=[messages.c.twilio_sid])
        stored = dict(connection.execute(inserted.returning(messages.c.twilio_sid, messages.c.id)).all())
        attachments = [{"message_id": stored[turn.channel_message_id], "kind": a.kind, "url": a.url,
                        "content_type": a.content_type, "latitude": a.latitude, "longitude": a.longitude,
                        "address": a.address, "label": a.label, "created_at": at}
                       for turn, at in batch if turn.channel_message_id in stored for a in turn.attachments]
        if attachments:
            connection.execute(MessageAttachment.__table__.insert(), attachments)
        counted: dict[int, list] = {}
        for turn, at in batch:
            if turn.channel_message_id in stored:
                entry = counted.setdefault(conversation_of[user_of[turn.phone]], [0, at])
                entry[0], entry[1] = entry[0] + 1, max(entry[1], at)
        if counted:
            connection.execute(COUNT_MESSAGES, [{"id": conversation_id, "n": n, "now": last}
                                                for conversation_id, (n, last) in counted.items()])
        duplicates = len(batch) - len(stored)
        if duplicates:
            log.info("duplicate deliveries ignored: %d", duplicates)
    for turn, at in turns:
        if turn.phone in one_by_one:
            store_inbound(connection, turn, idle_gap, now=at)
