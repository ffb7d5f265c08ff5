"""Delivery status of outbound messages, from Twilio's status callbacks.

Callbacks arrive out of order and more than once, and can even beat the REST call's answer that tells us
the SID. Every callback is kept as an event; a message moves only forwards in `STATUS_RANK`; and when a SID
is stored after its callbacks, the best status already seen is applied then.
"""
from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import STATUS_RANK, Message, MessageStatusEvent
from models.base import utcnow

log = logging.getLogger(__name__)


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
    session.add(MessageStatusEvent(twilio_sid=sid, status=status, error_code=error_code, payload=payload))
    moved = advance(session, sid, status, error_code)
    session.commit()
    if not moved:
        # The sender may be storing this SID right now: once our event is committed, either it sees the
        # event when it applies early callbacks, or this second look sees its SID.
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

