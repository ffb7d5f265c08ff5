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
from datetime import datetime

from sqlalchemy import Connection, select, update
from sqlalchemy.orm import Session

from bot.delivery.errors import error_text
from bot.delivery.status_rows import rows_for
from models import STATUS_RANK, Message, MessageStatusEvent
from models.base import utcnow

log = logging.getLogger(__name__)


def lock_sid(session: Session, sid: str) -> None:
    """Takes this SID's lock until the session's transaction ends (PostgreSQL; a no-op on SQLite)."""
    rows_for(session).lock_sid(session, sid)


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
    rows_for(session).store_sid(session, params, finishing=finish_turn is not None)


def advance(session: Session, sid: str, status: str, error_code: int | None, error_message: str | None = None) -> bool:
    """Moves the message with this SID forward to `status` (with the failure's code and text, if any); returns
    False if it was already past it."""
    rank = STATUS_RANK.get(status)
    if rank is None:
        return False
    values = {"status": status, "status_rank": rank, "updated_at": utcnow()}
    if error_code is not None:
        values["error_code"] = error_code
    if error_message is not None:
        values["error_message"] = error_message
    result = session.execute(update(Message)
                             .where(Message.twilio_sid == sid, Message.status_rank < rank)
                             .values(**values))
    return result.rowcount > 0


def record_callback(session: Session | Connection, sid: str, status: str, error_code: int | None, payload: dict,
                    ref: int | None = None) -> None:
    """Stores the callback and applies it; commits. Unknown SIDs are kept for when the SID is stored. The
    webhook passes a plain Connection: every statement here is Core, and an ORM session's bookkeeping was a
    sixth of a callback's CPU.

    Args:
        ref: our message id, from the callback URL: a message whose sender died after Twilio accepted it but
            before the SID was stored gets its SID here, with every status recorded for it.
    """
    # the SID's lock (it waits for a sender storing this SID right now: see the module docstring), the event and
    # the move forward, in one round trip on PostgreSQL
    moved = rows_for(session).record(session, {
        "sid": sid, "status": status, "rank": STATUS_RANK.get(status), "code": error_code, "payload": payload,
        "error": error_text(payload, error_code),
        "now": utcnow()})
    if not moved and ref is not None and _link(session, ref, sid):
        apply_early_callbacks(session, sid)
        moved = True
    session.commit()
    if not moved:
        # A second look once our event is committed. `store_sid` needs none (the lock orders it with this
        # callback), but a SID stored without the lock is still found.
        apply_early_callbacks(session, sid)
        session.commit()
    log.info("status callback message_sid=%s status=%s error_code=%s applied=%s", sid, status, error_code, moved)


def _link(session: Session, message_id: int, sid: str) -> bool:
    """Gives the SID to our outbound message `message_id` if it has none yet (the REST call's answer was never
    stored, or is about to be: then both write the same SID, in the order the SID's lock gives)."""
    return session.execute(update(Message).where(Message.id == message_id, Message.twilio_sid.is_(None),
                                                 Message.direction == "outbound")
                           .values(twilio_sid=sid)).rowcount == 1


def apply_early_callbacks(session: Session, sid: str) -> None:
    """Applies callbacks that arrived before the REST call's answer was stored."""
    events = session.execute(select(MessageStatusEvent.status, MessageStatusEvent.error_code,
                                    MessageStatusEvent.payload)
                             .where(MessageStatusEvent.twilio_sid == sid)).all()
    if not events:
        return
    best = max(events, key=lambda e: STATUS_RANK.get(e.status, -1))
    failure = next((e for e in events if e.error_code is not None), None)
    if failure is None:
        advance(session, sid, best.status, None)
        return
    advance(session, sid, best.status, failure.error_code, error_text(failure.payload or {}, failure.error_code))

