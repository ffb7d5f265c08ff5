"""Stores an inbound turn: the user by phone, their active conversation, the message and its attachments.

Every step is safe under concurrent deliveries: the user is an upsert on the unique phone, the conversation
an insert guarded by a one-active-per-user unique index, and the message an `INSERT … ON CONFLICT DO NOTHING`
on the unique MessageSid, so N deliveries of one MessageSid store one turn and enqueue one job.

This is the webhook's hot path, so the statements are built once, as SQL that PostgreSQL and SQLite both
accept, and run on a plain connection: building SQLAlchemy insert constructs per request cost more CPU than
the database work itself (measured in docs/benchmarks.md).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, func, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection

from bot.sql import as_utc, prebuilt
from bot.turns import InboundTurn
from models import Conversation, ConversationParticipant, Message, MessageAttachment, User
from models.base import UTCDateTime, utcnow

log = logging.getLogger(__name__)


UPSERT_USER = prebuilt("""
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
CLOSE_CONVERSATION = prebuilt("UPDATE conversations SET status = 'closed', closed_at = :now "
                          "WHERE id = :id AND status = 'active'", "now")
OPEN_CONVERSATION = prebuilt("""
    INSERT INTO conversations (user_id, channel, status, started_at, last_message_at, message_count,
                               total_tokens, total_cost_usd)
    VALUES (:user_id, 'whatsapp', 'active', :now, :now, 0, 0, 0)
    ON CONFLICT (user_id) WHERE status = 'active' DO NOTHING
    RETURNING id""", "now")
ADD_PARTICIPANTS = prebuilt("""
    INSERT INTO conversation_participants (conversation_id, user_id, role, joined_at)
    VALUES (:conversation_id, :user_id, 'attendee', :now), (:conversation_id, NULL, 'bot', :now)""", "now")
INSERT_MESSAGE = prebuilt("""
    INSERT INTO messages (conversation_id, user_id, direction, role, body, message_type, status, status_rank,
                          twilio_sid, part_index, part_count, metadata, created_at, updated_at)
    VALUES (:conversation_id, :user_id, 'inbound', 'user', :body, :message_type, 'received', 0,
            :sid, 0, 1, :meta, :now, :now)
    ON CONFLICT (twilio_sid) DO NOTHING
    RETURNING id""", "now", json=("meta",))
INSERT_ATTACHMENT = prebuilt("""
    INSERT INTO message_attachments (message_id, kind, url, content_type, latitude, longitude, address, label,
                                     created_at)
    VALUES (:message_id, :kind, :url, :content_type, :latitude, :longitude, :address, :label, :now)""", "now")
COUNT_MESSAGE = prebuilt("UPDATE conversations SET last_message_at = :now, message_count = message_count + 1 "
                     "WHERE id = :id", "now")
COUNT_MESSAGES = prebuilt("UPDATE conversations SET last_message_at = :now, message_count = message_count + :n "
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
    rows = _BatchRows.for_dialect(connection)
    by_phone: dict[str, list[tuple[InboundTurn, datetime]]] = {}
    for turn, at in turns:
        by_phone.setdefault(turn.phone, []).append((turn, at))

    user_of = rows.upsert_users(connection, [
        (phone, next((t.wa_id for t, _ in reversed(mine) if t.wa_id), None),
         next((t.profile_name for t, _ in reversed(mine) if t.profile_name), None),
         max(at for _, at in mine), mine[0][1])
        for phone, mine in sorted(by_phone.items())])  # one lock order for every batch
    active = rows.active_conversations(connection, list(user_of.values()))
    conversation_of: dict[int, int] = {}
    to_open: list[int] = []
    one_by_one: set[str] = set()
    for phone, mine in by_phone.items():
        user_id = user_of[phone]
        times = [at for _, at in mine]
        if any(later - earlier > idle_gap for earlier, later in zip(times, times[1:])):
            one_by_one.add(phone)
        elif user_id in active and as_utc(active[user_id][1]) >= times[0] - idle_gap:
            conversation_of[user_id] = active[user_id][0]
        elif user_id in active:
            one_by_one.add(phone)  # closes the idle conversation and opens the next: the single-turn path
        else:
            to_open.append(user_id)
    if to_open:
        first_at = {user_of[phone]: mine[0][1] for phone, mine in by_phone.items()}
        created = rows.open_conversations(connection, [(user_id, first_at[user_id]) for user_id in to_open])
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
        stored = rows.insert_messages(connection, [
            (conversation_of[user_of[turn.phone]], user_of[turn.phone], turn.body, turn.message_type,
             turn.channel_message_id, turn.meta or None, at) for turn, at in batch])
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
            rows.count_messages(connection, [(conversation_id, n, last)
                                             for conversation_id, (n, last) in counted.items()])
        duplicates = len(batch) - len(stored)
        if duplicates:
            log.info("duplicate deliveries ignored: %d", duplicates)
    for turn, at in turns:
        if turn.phone in one_by_one:
            store_inbound(connection, turn, idle_gap, now=at)


class _BatchRows:
    """The batch's statements, written for any dialect with SQLAlchemy's multi-row constructs (SQLite).

    Such a construct is compiled anew for every batch — a multi-row VALUES has no cached form — which cost
    more CPU than the rest of the batch (docs/benchmarks.md). `_PostgresBatchRows` sends the same rows as
    arrays to prebuilt statements instead.
    """

    @staticmethod
    def for_dialect(connection: Connection) -> "_BatchRows":
        return _POSTGRES_ROWS if connection.dialect.name == "postgresql" else _PORTABLE_ROWS

    def upsert_users(self, connection: Connection, users: list[tuple]) -> dict[str, int]:
        """(phone, wa_id, display_name, last received, first received) → {phone: user id}."""
        table = User.__table__
        upsert = sqlite.insert(table).values([
            {"phone": phone, "wa_id": wa_id, "display_name": name, "last_inbound_at": last, "role": "attendee",
             "status": "active", "language_explicit": False, "created_at": first, "updated_at": first}
            for phone, wa_id, name, last, first in users])
        upsert = upsert.on_conflict_do_update(index_elements=[table.c.phone], set_={
            "last_inbound_at": upsert.excluded.last_inbound_at,
            "display_name": func.coalesce(upsert.excluded.display_name, table.c.display_name),
            "wa_id": func.coalesce(upsert.excluded.wa_id, table.c.wa_id)})
        return {phone: user_id for user_id, phone in connection.execute(upsert.returning(table.c.id, table.c.phone))}

    def active_conversations(self, connection: Connection, user_ids: list[int]) -> dict[int, tuple]:
        """{user id: (conversation id, last_message_at)} of the users' active conversations."""
        table = Conversation.__table__
        return {row.user_id: (row.id, row.last_message_at) for row in connection.execute(
            select(table.c.user_id, table.c.id, table.c.last_message_at)
            .where(table.c.status == "active", table.c.user_id.in_(user_ids)))}

    def open_conversations(self, connection: Connection, users: list[tuple[int, datetime]]) -> dict[int, int]:
        """(user id, first received) → {user id: new conversation id} for those no concurrent delivery beat."""
        table = Conversation.__table__
        opened = sqlite.insert(table).values([
            {"user_id": user_id, "channel": "whatsapp", "status": "active", "started_at": at,
             "last_message_at": at, "message_count": 0, "total_tokens": 0, "total_cost_usd": 0}
            for user_id, at in users])
        opened = opened.on_conflict_do_nothing(index_elements=[table.c.user_id],
                                               index_where=table.c.status == "active")
        return dict(connection.execute(opened.returning(table.c.user_id, table.c.id)).all())

    def insert_messages(self, connection: Connection, messages: list[tuple]) -> dict[str, int]:
        """(conversation id, user id, body, type, sid, meta, received) in order → {sid: message id} of the
        turns not stored before."""
        table = Message.__table__
        inserted = sqlite.insert(table).values([
            {"conversation_id": conversation_id, "user_id": user_id, "direction": "inbound", "role": "user",
             "body": body, "message_type": message_type, "status": "received", "status_rank": 0,
             "twilio_sid": sid, "part_index": 0, "part_count": 1, "metadata": meta, "created_at": at,
             "updated_at": at}
            for conversation_id, user_id, body, message_type, sid, meta, at in messages])
        inserted = inserted.on_conflict_do_nothing(index_elements=[table.c.twilio_sid])
        return dict(connection.execute(inserted.returning(table.c.twilio_sid, table.c.id)).all())

    def count_messages(self, connection: Connection, counts: list[tuple[int, int, datetime]]) -> None:
        """(conversation id, turns stored, last received): the conversations' counters."""
        connection.execute(COUNT_MESSAGES, [{"id": conversation_id, "n": n, "now": last}
                                            for conversation_id, n, last in counts])


class _PostgresBatchRows(_BatchRows):
    """The same rows as `_BatchRows`, each column sent as one array to a prebuilt statement that unnests them:
    compiled once, one round trip per step whatever the batch's size (an UPDATE's executemany would be one
    per row)."""

    UPSERT_USERS = text("""
        INSERT INTO users (phone, wa_id, display_name, last_inbound_at, role, status, language_explicit,
                           created_at, updated_at)
        SELECT u.phone, u.wa_id, u.display_name, u.last_at, 'attendee', 'active', false, u.first_at, u.first_at
        FROM unnest(CAST(:phones AS text[]), CAST(:wa_ids AS text[]), CAST(:names AS text[]),
                    CAST(:last_ats AS timestamptz[]), CAST(:first_ats AS timestamptz[]))
             AS u(phone, wa_id, display_name, last_at, first_at)
        ON CONFLICT (phone) DO UPDATE SET last_inbound_at = excluded.last_inbound_at,
            display_name = COALESCE(excluded.display_name, users.display_name),
            wa_id = COALESCE(excluded.wa_id, users.wa_id)
        RETURNING id, phone""")
    ACTIVE_CONVERSATIONS = text("SELECT user_id, id, last_message_at FROM conversations "
                                "WHERE status = 'active' AND user_id = ANY(CAST(:user_ids AS bigint[]))")
    OPEN_CONVERSATIONS = text("""
        INSERT INTO conversations (user_id, channel, status, started_at, last_message_at, message_count,
                                   total_tokens, total_cost_usd)
        SELECT c.user_id, 'whatsapp', 'active', c.at, c.at, 0, 0, 0
        FROM unnest(CAST(:user_ids AS bigint[]), CAST(:ats AS timestamptz[])) AS c(user_id, at)
        ON CONFLICT (user_id) WHERE status = 'active' DO NOTHING
        RETURNING user_id, id""")
    # WITH ORDINALITY … ORDER BY: the turns take their ids in arrival order
    INSERT_MESSAGES = text("""
        INSERT INTO messages (conversation_id, user_id, direction, role, body, message_type, status, status_rank,
                              twilio_sid, part_index, part_count, metadata, created_at, updated_at)
        SELECT m.conversation_id, m.user_id, 'inbound', 'user', m.body, m.message_type, 'received', 0,
               m.sid, 0, 1, CAST(m.meta AS jsonb), m.at, m.at
        FROM unnest(CAST(:conversation_ids AS bigint[]), CAST(:user_ids AS bigint[]), CAST(:bodies AS text[]),
                    CAST(:types AS text[]), CAST(:sids AS text[]), CAST(:metas AS text[]),
                    CAST(:ats AS timestamptz[])) WITH ORDINALITY
             AS m(conversation_id, user_id, body, message_type, sid, meta, at, n)
        ORDER BY m.n
        ON CONFLICT (twilio_sid) DO NOTHING
        RETURNING twilio_sid, id""")
    COUNT_MESSAGES = text("""
        UPDATE conversations SET last_message_at = c.at, message_count = conversations.message_count + c.n
        FROM unnest(CAST(:ids AS bigint[]), CAST(:ns AS integer[]), CAST(:ats AS timestamptz[])) AS c(id, n, at)
        WHERE conversations.id = c.id""")

    def upsert_users(self, connection: Connection, users: list[tuple]) -> dict[str, int]:
        phones, wa_ids, names, lasts, firsts = _columns(users, 5)
        return {phone: user_id for user_id, phone in connection.execute(self.UPSERT_USERS, {
            "phones": phones, "wa_ids": wa_ids, "names": names, "last_ats": lasts, "first_ats": firsts})}

    def active_conversations(self, connection: Connection, user_ids: list[int]) -> dict[int, tuple]:
        return {user_id: (conversation_id, last_at) for user_id, conversation_id, last_at
                in connection.execute(self.ACTIVE_CONVERSATIONS, {"user_ids": user_ids})}

    def open_conversations(self, connection: Connection, users: list[tuple[int, datetime]]) -> dict[int, int]:
        user_ids, ats = _columns(users, 2)
        return dict(connection.execute(self.OPEN_CONVERSATIONS, {"user_ids": user_ids, "ats": ats}).all())

    def insert_messages(self, connection: Connection, messages: list[tuple]) -> dict[str, int]:
        conversation_ids, user_ids, bodies, types, sids, metas, ats = _columns(messages, 7)
        metas = [None if meta is None else json.dumps(meta, ensure_ascii=False) for meta in metas]
        return dict(connection.execute(self.INSERT_MESSAGES, {
            "conversation_ids": conversation_ids, "user_ids": user_ids, "bodies": bodies, "types": types,
            "sids": sids, "metas": metas, "ats": ats}).all())

    def count_messages(self, connection: Connection, counts: list[tuple[int, int, datetime]]) -> None:
        ids, ns, ats = _columns(counts, 3)
        connection.execute(self.COUNT_MESSAGES, {"ids": ids, "ns": ns, "ats": ats})


def _columns(rows: list[tuple], width: int) -> list[list]:
    """Rows → one list per column (for PostgreSQL arrays)."""
    return [list(column) for column in zip(*rows)] if rows else [[] for _ in range(width)]


_PORTABLE_ROWS, _POSTGRES_ROWS = _BatchRows(), _PostgresBatchRows()
