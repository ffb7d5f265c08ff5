"""Delivery status of outbound messages, from Twilio's status callbacks.

Callbacks arrive out of order and more than once, and can even beat the REST call's answer that tells us
the SID. Every callback is kept as an event; a message moves only forwards in `STATUS_RANK`; and when a SID
is stored after its callbacks, the best status already seen is applied then.

Storing a SID (`store_sid`, one UPDATE that also applies the early callbacks) and recording a callback
(`record_callback`) take the same per-SID lock on PostgreSQL, held to the end of their transactions, so
neither can miss the other: a callback recorded first is committed before the UPDATE reads the events, and a
callback that waits for the lock finds the SID committed. An uncommitted SID is invisible to the callback's
`UPDATE ... WHERE twilio_sid = ...` (it neither matches nor waits), so without the lock a callback committed
while the UPDATE runs could be lost. SQLite lets one writer at a time, which gives the same order.
"""
from __future__ import annotations

import logging
import zlib
from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from bot.core.sql import prebuilt
from models import STATUS_RANK, Message, MessageStatusEvent
from models.base import utcnow

log = logging.getLogger(__name__)

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


def _sid_key(sid: str) -> int:
    return zlib.crc32(sid.encode()) - 2 ** 31


def lock_sid(session: Session, sid: str) -> None:
    """Takes this SID's lock until the session's transaction ends (PostgreSQL; a no-op on SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_SID_LOCK, {"sid_key": _sid_key(sid)})


def store_sid(session: Session, message_id: int, sid: str, provider_status: str, now: datetime,
              finish_turn: tuple[int, str] | None = None) -> None:
    """Stores the SID the REST call returned and applies the callbacks that beat it, in one UPDATE after the
    SID's lock (the caller commits). Same result as storing the SID, committing, then `apply_early_callbacks`.

    Args:
        finish_turn: (inbound turn id, its final status) when this part is its answer's last: the turn is
            marked in the same round trip.
    """
    params = {"p_id": message_id, "p_sid": sid, "p_now": now, "p_status": provider_status,
              "p_rank": STATUS_RANK.get(provider_status, STATUS_RANK["queued"])}
    if finish_turn is not None:
        params.update(t_id=finish_turn[0], t_status=finish_turn[1])
    if session.get_bind().dialect.name == "postgresql":
        session.execute(STORE_SID_LOCKED_FINISHING if finish_turn else STORE_SID_LOCKED,
                        {**params, "sid_key": _sid_key(sid)})
        return
    session.execute(STORE_SID, params)  # SQLite: one writer at a time gives the order the lock gives
    if finish_turn is not None:
        session.execute(FINISH_TURN, params)


def advance(session: Session, sid: str, status: str, error_code: int | None) -> bool:
    """Moves the message with this SID forward to `status`; returns False if it was already past it."""
    rank = STATUS_RANK.get(status)
    if rank is None:
        return False
    values = {"status": status, "status_rank": rank, "updated_at": utcnow()}
    if error_code is not None:
        values["error_code"] = error_code
    result = session.execute(update(Message)
                             .where(Message.twilio_sid == sid, Message.status_rank < rank)
                             .values(**values))
    return result.rowcount > 0


def record_callback(session: Session, sid: str, status: str, error_code: int | None, payload: dict) -> None:
    """Stores the callback and applies it; commits. Unknown SIDs are kept for when the SID is stored."""
    lock_sid(session, sid)  # waits for a sender storing this SID right now (see the module docstring)
    session.add(MessageStatusEvent(twilio_sid=sid, status=status, error_code=error_code, payload=payload))
    moved = advance(session, sid, status, error_code)
    session.commit()
    if not moved:
        # A second look once our event is committed. `store_sid` needs none (the lock orders it with this
        # callback), but a SID stored without the lock is still found.
        apply_early_callbacks(session, sid)
        session.commit()
    log.info("status callback message_sid=%s status=%s error_code=%s applied=%s", sid, status, error_code, moved)


def apply_early_callbacks(session: Session, sid: str) -> None:
    """Applies callbacks that arrived before the REST call's answer was stored."""
    events = session.execute(select(MessageStatusEvent.status, MessageStatusEvent.error_code)
                             .where(MessageStatusEvent.twilio_sid == sid)).all()
    if not events:
        return
    best = max(events, key=lambda e: STATUS_RANK.get(e.status, -1))
    code = next((e.error_code for e in events if e.error_code is not None), None)
    advance(session, sid, best.status, code)

