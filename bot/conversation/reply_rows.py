"""The statements that store an answer, per database: the one place where storing a reply forks by dialect.

Portable (SQLite, and PostgreSQL answers of several parts): the parts in one INSERT (insertmanyvalues), then the
turn's route and the conversation's counters, each its own statement; the user's language through the ORM.
PostgreSQL, one part (nearly every answer): one round trip — the INSERT with the route, the counters and the
user's language as data-modifying CTEs, written once as SQL (the Core construct processed its 30-odd parameters
at several times the cost; docs/benchmarks.md).

A reply never waits for its user's row. The intake locks the user (its upsert) and then the conversation (its
counters); a reply may already hold the conversation when it gets to the user's language (the LLM route counts
its tokens on the conversation first), and waiting there closed a deadlock under load. So the language is
stored only if the row is free at that instant (`FOR NO KEY UPDATE SKIP LOCKED`); if an intake holds it, the
preference is left for the user's next written message (the turn keeps its language either way).
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import bindparam, insert, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.core.sql import prebuilt
from models import Conversation, Message, User
from models.base import JSONType

log = logging.getLogger(__name__)

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
# ... and the user's language remembered, when this turn changes it (a new user's first written message) and
# nobody holds the user's row (see the module docstring)
_SPOKEN = ("UPDATE users SET preferred_language = :u_language, updated_at = now() "
           "WHERE id = (SELECT id FROM users WHERE id = :u_id FOR NO KEY UPDATE SKIP LOCKED) RETURNING 1")
_SPOKEN_CTE = f"spoken AS ({_SPOKEN})"
SPOKEN = text(_SPOKEN)
_INSERT_PART = (f"INSERT INTO messages (message_type, {', '.join(PART_COLUMNS)}) "
                f"VALUES ('text', {', '.join(':i_' + column for column in PART_COLUMNS)}) RETURNING id")
_TYPED = dict(json=("i_metadata", "c_context"))
INSERT_ONE_PART_ROUTED = prebuilt(f"WITH {_ROUTED_CTE}, {_COUNTED_CTE} {_INSERT_PART}",
                                  "i_created_at", "i_updated_at", "c_now", **_TYPED)
INSERT_ONE_PART_ROUTED_SPOKEN = prebuilt(
    f"WITH {_ROUTED_CTE}, {_COUNTED_CTE}, {_SPOKEN_CTE} {_INSERT_PART}, (SELECT count(*) FROM spoken) AS spoken",
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
    """PostgreSQL: a one-part answer in one round trip; the user's language only if their row is free."""

    def store(self, session: Session, rows: list[dict], routed: dict, turn_id: int, conversation_id: int,
              context: dict, now: datetime, speaker: User | None, language: str) -> list[int]:
        if len(rows) != 1:
            ids = super().store(session, rows, routed, turn_id, conversation_id, context, now, None, language)
            if speaker is not None:
                spoken = session.execute(SPOKEN, {"u_id": speaker.id, "u_language": language}).first()
                _remembered(session, speaker, language, spoken is not None)
            return ids
        params = {**{f"i_{k}": v for k, v in rows[0].items()}, "r_id": turn_id,
                  **{f"r_{k}": v for k, v in routed.items()},
                  "c_id": conversation_id, "c_context": context, "c_parts": 1, "c_now": now}
        if speaker is not None:  # in the same statement, not an ORM flush of its own
            params.update(u_id=speaker.id, u_language=language)
        if speaker is None:
            return list(session.execute(INSERT_ONE_PART_ROUTED, params).scalars().all())
        [(part_id, spoken)] = session.execute(INSERT_ONE_PART_ROUTED_SPOKEN, params).all()
        _remembered(session, speaker, language, spoken > 0)
        return [part_id]


def _remembered(session: Session, speaker: User, language: str, stored: bool) -> None:
    """The speaker as the database now has it, without reading it back."""
    if stored:
        set_committed_value(speaker, "preferred_language", language)
        session.expire(speaker, ["updated_at"])
    else:
        log.info("user row busy: language left for the next message user_id=%s", speaker.id)


_PORTABLE, _POSTGRES = ReplyRows(), PostgresReplyRows()


def rows_for(session: Session) -> ReplyRows:
    return _POSTGRES if session.get_bind().dialect.name == "postgresql" else _PORTABLE
