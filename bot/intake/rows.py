"""The statements that store inbound turns, per database: the one place where storing turns forks by dialect.

Every turn is stored through these, alone (`bot.intake.store`) or in a batch (`bot.intake.batch`): one user
upsert, one read of the active conversations, one insert of the new ones, one message insert
(`INSERT … ON CONFLICT (twilio_sid) DO NOTHING`, ids in arrival order), attachments and counters. PostgreSQL
takes each column as an array (`unnest`), prebuilt once; SQLite (the embedded mode) takes SQLAlchemy's
multi-row constructs.
"""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection

from bot.core.sql import prebuilt
from models import Conversation, Message, MessageAttachment, User

COUNT_MESSAGES = prebuilt("UPDATE conversations SET last_message_at = :now, message_count = message_count + :n "
                          "WHERE id = :id", "now")
# Core's insert batches many rows into one INSERT (insertmanyvalues): one round trip for a batch's attachments
INSERT_ATTACHMENTS = MessageAttachment.__table__.insert()


class TurnRows:
    """The statements, with SQLAlchemy's multi-row constructs and SQLite's upsert (the embedded mode).

    Such a construct is compiled anew for every batch — a multi-row VALUES has no cached form — which cost
    more CPU than the rest of the batch (docs/benchmarks.md). `PostgresTurnRows` sends the same rows as
    arrays to prebuilt statements instead.
    """

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

    def insert_attachments(self, connection: Connection, attachments: list[dict]) -> None:
        """The stored turns' attachments: {message_id, kind, url, content_type, latitude, longitude, address,
        label, created_at} each (the same statement on every dialect)."""
        if attachments:
            connection.execute(INSERT_ATTACHMENTS, attachments)


class PostgresTurnRows(TurnRows):
    """The same rows as `TurnRows`, each column sent as one array to a prebuilt statement that unnests them:
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
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


_PORTABLE, _POSTGRES = TurnRows(), PostgresTurnRows()


def rows_for(connection: Connection) -> TurnRows:
    """The statements for the connection's database."""
    return _POSTGRES if connection.dialect.name == "postgresql" else _PORTABLE
