"""Consent to messages the bot starts: opting out and back in (by keyword, or when Twilio answers 21610), with
its history. Opted-out users still get answers to what they write — that is not bot-initiated — but no
reminders, broadcasts or notifications."""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.core.sql import as_utc
from bot.nlu.normalize import normalize
from models import ConsentEvent, User
from models.base import utcnow

# a message that is only one of these (any case, with or without punctuation) opts out / back in; "cancel"
# and "الغاء" alone stay the ticket-cancel words
OPT_OUT_WORDS = frozenset(normalize(w) for w in (
    "stop", "unsubscribe", "stopall", "stop all", "optout", "opt out", "opt-out", "إيقاف", "ايقاف",
    "الغاء الاشتراك", "إلغاء الاشتراك", "الغي الاشتراك"))
OPT_IN_WORDS = frozenset(normalize(w) for w in ("start", "unstop", "subscribe", "اشتراك", "اشترك", "تفعيل"))


def keyword(text: str) -> str | None:
    """"opt_out", "opt_in" or None for a message."""
    words = normalize(text)
    if words in OPT_OUT_WORDS:
        return "opt_out"
    if words in OPT_IN_WORDS:
        return "opt_in"
    return None


def opt_out(session: Session, user: User, source: str) -> None:
    """Records the opt-out (the caller commits); a user already out stays out, with the event kept."""
    if user.opted_out_at is None:
        user.opted_out_at = utcnow()
    session.add(ConsentEvent(user_id=user.id, action="opt_out", source=source[:40], created_at=utcnow()))


def opt_in(session: Session, user: User, source: str) -> None:
    user.opted_out_at = None
    session.add(ConsentEvent(user_id=user.id, action="opt_in", source=source[:40], created_at=utcnow()))


def opted_out_by_twilio(session: Session, phone: str) -> None:
    """A send failed with 21610 (the recipient blocked the sender or sent STOP at Twilio): mark them out."""
    user = session.scalars(select(User).where(User.phone == phone)).first()
    if user is None or user.opted_out_at is not None:
        return
    session.execute(update(User).where(User.id == user.id).values(opted_out_at=utcnow()))
    session.add(ConsentEvent(user_id=user.id, action="opt_out", source="twilio_21610", created_at=utcnow()))


def history(session: Session, user: User) -> list[dict]:
    events = session.scalars(select(ConsentEvent).where(ConsentEvent.user_id == user.id).order_by(ConsentEvent.id))
    return [{"action": e.action, "source": e.source, "at": as_utc(e.created_at).isoformat()} for e in events]
