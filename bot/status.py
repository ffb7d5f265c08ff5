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

from sqlalchemy import bindparam, case, func, select, text, update
from sqlalchemy.orm import Session

from models import STATUS_RANK, Message, MessageStatusEvent
from models.base import utcnow

log = logging.getLogger(__name__)

_SID_LOCK = text("SELECT pg_advisory_xact_lock(1397310532, :key)")  # classid 'SIDD': this module's namespace
_EVENTS = MessageStatusEvent.__table__
_MESSAGES = Message.__table__
_RANK = case(STATUS_RANK, value=_EVENTS.c.status)  # NULL for a status word we do not know
# The best early callback above the status the REST call answered (ties: the first recorded), and the first
# error code recorded for the SID — what `apply_early_callbacks` would apply after the SID is stored.
_BETTER = (select(_EVENTS.c.status, _RANK.label("rank"))
           .where(_EVENTS.c.twilio_sid == bindparam("p_sid"), _RANK > bindparam("p_rank"))
           .order_by(_RANK.desc(), _EVENTS.c.id).limit(1).subquery())
_BEST_STATUS = select(_BETTER.c.status).scalar_subquery()
_BEST_RANK = select(_BETTER.c.rank).scalar_subquery()
_FIRST_CODE = (select(_EVENTS.c.error_code)
               .where(_EVENTS.c.twilio_sid == bindparam("p_sid"), _EVENTS.c.error_code.is_not(None))
               .order_by(_EVENTS.c.id).limit(1).scalar_subquery())
STORE_SID = (update(_MESSAGES).where(_MESSAGES.c.id == bindparam("p_id"))
             .values(twilio_sid=bindparam("p_sid"), sent_at=bindparam("p_now"), updated_at=bindparam("p_now"),
                     status=func.coalesce(_BEST_STATUS, bindparam("p_status")),
                     status_rank=func.coalesce(_BEST_RANK, bindparam("p_rank")),
                     error_code=case((_BEST_RANK.is_not(None), func.coalesce(_FIRST_CODE, _MESSAGES.c.error_code)),
                                     else_=_MESSAGES.c.error_code)))


def lock_sid(session: Session, sid: str) -> None:
    """Takes this SID's lock until the session's transaction ends (PostgreSQL; a no-op on SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_SID_LOCK, {"key": zlib.crc32(sid.encode()) - 2 ** 31})


def store_sid(session: Session, message_id: int, sid: str, provider_status: str, now: datetime) -> None:
    """Stores the SID the REST call returned and applies the callbacks that beat it, in one UPDATE (the
    caller commits). Same result as storing the SID, committing, then `apply_early_callbacks`."""
    lock_sid(session, sid)
    session.execute(STORE_SID, {"p_id": message_id, "p_sid": sid, "p_now": now, "p_status": provider_status,
                                "p_rank": STATUS_RANK.get(provider_status, STATUS_RANK["queued"])})


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

