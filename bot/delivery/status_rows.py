"""The statements that store a message's SID and order it with its status callbacks, per database: the one
place where delivery status forks by dialect.

PostgreSQL: a per-SID advisory lock, held to the end of the transaction, orders a sender storing the SID with a
callback recording a status for it (see `bot.delivery.status`); the lock and the SID's UPDATE go in one round
trip. SQLite lets one writer at a time, which gives the same order without a lock.
"""
from __future__ import annotations

import zlib

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from bot.core.sql import prebuilt
from models import STATUS_RANK

_LOCK = "SELECT pg_advisory_xact_lock(1397310532, :sid_key)"  # classid 'SIDD': this module's namespace
_SID_LOCK = text(_LOCK)
# An event's rank (NULL for a status word we do not know), written out: as a Core `case()` its 16 literals were
# bound parameters processed on every execution.
_RANK = "CASE e.status " + " ".join(f"WHEN '{status}' THEN {rank}" for status, rank in STATUS_RANK.items()) + " END"
_BETTER = f"FROM message_status_events e WHERE e.twilio_sid = :p_sid AND {_RANK} > :p_rank"
# The SID, with the best early callback above the status the REST call answered (ties: the first recorded) and
# the first error code recorded for the SID — what `apply_early_callbacks` would apply after the SID is stored.
_STORE_SID = f"""
    UPDATE messages SET twilio_sid = :p_sid, sent_at = :p_now, updated_at = :p_now,
        status = COALESCE((SELECT e.status {_BETTER} ORDER BY {_RANK} DESC, e.id LIMIT 1), :p_status),
        status_rank = COALESCE((SELECT {_RANK} {_BETTER} ORDER BY {_RANK} DESC, e.id LIMIT 1), :p_rank),
        error_code = CASE WHEN EXISTS (SELECT 1 {_BETTER})
                          THEN COALESCE((SELECT e.error_code FROM message_status_events e
                                         WHERE e.twilio_sid = :p_sid AND e.error_code IS NOT NULL
                                         ORDER BY e.id LIMIT 1), messages.error_code)
                          ELSE messages.error_code END
    WHERE id = :p_id"""
STORE_SID = prebuilt(_STORE_SID, "p_now")
# PostgreSQL: the SID's lock and the UPDATE in one round trip. Two statements, not one: in READ COMMITTED each
# statement of a query string reads with a snapshot taken when it starts, so the UPDATE sees every callback
# committed before the lock was granted (a lock taken inside the UPDATE would come after its snapshot).
STORE_SID_LOCKED = prebuilt(f"{_LOCK};\n{_STORE_SID}", "p_now")
# ... and the turn the part answers marked as done, when it is the answer's last part (a data-modifying CTE)
_FINISH_TURN = "UPDATE messages SET status = :t_status, updated_at = :p_now WHERE id = :t_id"
FINISH_TURN = prebuilt(_FINISH_TURN, "p_now")
STORE_SID_LOCKED_FINISHING = prebuilt(f"{_LOCK};\nWITH finished AS ({_FINISH_TURN}) {_STORE_SID}", "p_now")




# A status callback: the event kept, and the message moved forward to it (never backwards), after the SID's lock.
_RECORD = """INSERT INTO message_status_events (twilio_sid, status, error_code, payload, received_at)
             VALUES (:sid, :status, :code, :payload, :now)"""
_ADVANCE = """UPDATE messages SET status = :status, status_rank = :rank, updated_at = :now,
                  error_code = COALESCE(:code, error_code), error_message = COALESCE(:error, error_message)
              WHERE twilio_sid = :sid AND status_rank < :rank"""
RECORD = prebuilt(_RECORD, "now", json=("payload",))
ADVANCE = prebuilt(_ADVANCE, "now")
# PostgreSQL: the lock, the event and the move in one round trip (the UPDATE's row count is the statement's)
RECORD_LOCKED = prebuilt(f"{_LOCK};\n{_RECORD};\n{_ADVANCE}", "now", json=("payload",))
RECORD_LOCKED_ONLY = prebuilt(f"{_LOCK};\n{_RECORD}", "now", json=("payload",))


def _sid_key(sid: str) -> int:
    return zlib.crc32(sid.encode()) - 2 ** 31


class StatusRows:
    """SQLite (the embedded mode): no lock; the SID's UPDATE, then the turn's."""

    def lock_sid(self, session: Session, sid: str) -> None:
        """Takes this SID's lock until the session's transaction ends (a no-op here)."""

    def store_sid(self, session: Session, params: dict, finishing: bool) -> None:
        session.execute(STORE_SID, params)
        if finishing:
            session.execute(FINISH_TURN, params)

    def record(self, session: Session, params: dict) -> bool:
        """Keeps a callback's event and moves its message forward (`params["rank"]` None: a status word we do
        not know, kept only); True when the message moved."""
        session.execute(RECORD, params)
        return params["rank"] is not None and session.execute(ADVANCE, params).rowcount > 0


class PostgresStatusRows(StatusRows):
    def lock_sid(self, session: Session, sid: str) -> None:
        session.execute(_SID_LOCK, {"sid_key": _sid_key(sid)})

    def store_sid(self, session: Session, params: dict, finishing: bool) -> None:
        session.execute(STORE_SID_LOCKED_FINISHING if finishing else STORE_SID_LOCKED,
                        {**params, "sid_key": _sid_key(params["p_sid"])})

    def record(self, session: Session, params: dict) -> bool:
        keyed = {**params, "sid_key": _sid_key(params["sid"])}
        if params["rank"] is None:
            session.execute(RECORD_LOCKED_ONLY, keyed)
            return False
        return session.execute(RECORD_LOCKED, keyed).rowcount > 0


_PORTABLE, _POSTGRES = StatusRows(), PostgresStatusRows()


def rows_for(session: Session | Connection) -> StatusRows:
    dialect = session.dialect if isinstance(session, Connection) else session.get_bind().dialect
    return _POSTGRES if dialect.name == "postgresql" else _PORTABLE
