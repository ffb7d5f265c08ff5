"""The statements that store an answer, per database: the one place where storing a reply forks by dialect.

Portable (SQLite, and PostgreSQL answers of several parts): the parts in one INSERT (insertmanyvalues), then the
turn's route and the conversation's counters, each its own statement; the user's language through the ORM.
PostgreSQL, one part (nearly every answer): one round trip — the INSERT with the route, the counters and the
user's language as data-modifying CTEs, written once as SQL (the Core construct processed its 30-odd parameters
at several times the cost; docs/benchmarks.md).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.core.sql import prebuilt
from models import Conversation, Message, User
from models.base import JSONType

_MESSAGES, _CONVERSATIONS = Message.__table__, Conversation.__table__
ROUTED = (update(_MESSAGES).where(_MESSAGES.c.id == bindparam("p_id"))
          .values(language=bindparam("p_language"), route=bindparam("p_route"), route_key=bindparam("p_key"),
                  confidence=bindparam("p_confidence"), tool_used=bindparam("p_tool"),
                  action_taken=bindparam("p_action")))
REPLY_COUNTED = (update(_CONVERSATIONS).where(_CONVERSATIONS.c.id == bindparam("p_id"))
                 .values(context=bindparam("p_context", type_=JSONType),
                         message_count=_CONVERSATIONS.c.message_count + bindparam("p_parts"),
                         last_message_at=bindparam("p_now")))
# the parts of an answer, in one round trip (insertmanyvalues), their ids in the rows' order
INSERT_PARTS = insert(_MESSAGES).returning(_MESSAGES.c.id, sort_by_parameter_order=True)

PART_COLUMNS = ("conversation_id", "user_id", "direction", "role", "body", "status", "status_rank", "reply_to_id",
                "part_index", "part_count", "route", "route_key", "confidence", "language", "created_at",
                "updated_at", "tool_used", "action_taken", "metadata", "model", "prompt_tokens", "completion_tokens",
                "latency_ms")
_ROUTED_CTE = ("routed AS (UPDATE messages SET language = :r_language, route = :r_route, route_key = :r_key, "
               "confidence = :r_confidence, tool_used = :r_tool, action_taken = :r_action WHERE id = :r_id)")
_COUNTED_CTE = ("counted AS (UPDATE conversations SET context = :c_context, message_count = message_count + :c_parts, "
                "last_message_at = :c_now WHERE id = :c_id)")
# ... and the user's language remembered, when this turn changes it (a new user's first written message)
_SPOKEN_CTE = "spoken AS (UPDATE users SET preferred_language = :u_language, updated_at = now() WHERE id = :u_id)"
_INSERT_PART = (f"INSERT INTO messages (message_type, {', '.join(PART_COLUMNS)}) "
                f"VALUES ('text', {', '.join(':i_' + column for column in PART_COLUMNS)}) RETURNING id")
_TYPED = dict(json=("i_metadata", "c_context"))
INSERT_ONE_PART_ROUTED = prebuilt(f"WITH {_ROUTED_CTE}, {_COUNTED_CTE} {_INSERT_PART}",
                                  "i_created_at", "i_updated_at", "c_now", **_TYPED)
INSERT_ONE_PART_ROUTED_SPOKEN = prebuilt(f"WITH {_ROUTED_CTE}, {_COUNTED_CTE}, {_SPOKEN_CTE} {_INSERT_PART}",
                                         "i_created_at", "i_updated_at", "c_now", **_TYPED)


class ReplyRows:
    """Any database: a statement per step."""

    def store(self, session: Session, rows: list[dict], routed: dict, turn_id: int, conversation_id: int,
              context: dict, now: datetime, speaker: User | None, language: str) -> list[int]:
        """Inserts the parts and records the turn's route, the conversation's counters and `context`, and
        `language` as `speaker`'s (None: unchanged); returns the parts' ids in order. The caller commits."""
        if speaker is not None:  # the ORM flushes it with the rest
            speaker.preferred_language = language
        ids = session.execute(INSERT_PARTS, rows[0] if len(rows) == 1 else rows).scalars().all()
        session.execute(ROUTED, {"p_id": turn_id, **{f"p_{k}": v for k, v in routed.items()}})
        session.execute(REPLY_COUNTED, {"p_id": conversation_id, "p_context": context, "p_parts": len(rows),
                                        "p_now": now})
        return list(ids)


class PostgresReplyRows(ReplyRows):
    """PostgreSQL: a one-part answer in one round trip."""

    def store(self, session: Session, rows: list[dict], routed: dict, turn_id: int, conversation_id: int,
              context: dict, now: datetime, speaker: User | None, language: str) -> list[int]:
        if len(rows) != 1:
            return super().store(session, rows, routed, turn_id, conversation_id, context, now, speaker, language)
        params = {**{f"i_{k}": v for k, v in rows[0].items()}, "r_id": turn_id,
                  **{f"r_{k}": v for k, v in routed.items()},
                  "c_id": conversation_id, "c_context": context, "c_parts": 1, "c_now": now}
        if speaker is not None:  # in the same statement, not an ORM flush of its own
            params.update(u_id=speaker.id, u_language=language)
        ids = session.execute(INSERT_ONE_PART_ROUTED_SPOKEN if speaker is not None else INSERT_ONE_PART_ROUTED,
                              params).scalars().all()
        if speaker is not None:
            set_committed_value(speaker, "preferred_language", language)
            session.expire(speaker, ["updated_at"])
        return list(ids)


_PORTABLE, _POSTGRES = ReplyRows(), PostgresReplyRows()


def rows_for(session: Session) -> ReplyRows:
    return _POSTGRES if session.get_bind().dialect.name == "postgresql" else _PORTABLE
