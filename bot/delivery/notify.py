"""Messages the bot sends beside an answer: telling organizers of a handoff, relaying the team's reply to an
attendee. Each is stored in the recipient's conversation and sent like any part (claim, retries, status),
free-form inside WhatsApp's 24-hour window, an approved template outside it (or skipped, logged, without one).
Notices the bot starts itself skip opted-out users; a person's relayed reply does not.

A notice with a `record` ((kind, subject id): a handoff, flagged content, a finished broadcast) is also a
notification (seed 002 `notifications`): stored for its recipient with what became of it, and sent at most once
per (recipient, kind, subject) whoever sends it again.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.delivery.conversations import active_conversation
from bot.delivery.reach import SKIP, reach
from bot.delivery.sending import Dispatcher
from models import Conversation, Message, Notification, User
from models.base import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    """One message to one user: the text in each language, the template for outside the window."""

    user_id: int
    texts: dict[str, str]  # {"en": ..., "ar": ...}; the recipient's language is used
    route: str = "notification"
    template_sid: str | None = None  # for either language
    template_variables: dict = field(default_factory=dict)
    bot_initiated: bool = True  # False for a person's reply relayed by the bot
    meta: dict = field(default_factory=dict)
    record: tuple[str, int] | None = None  # (kind, subject id): also a stored notification


def send_notices(session: Session, dispatcher: Dispatcher, idle_gap: timedelta, notices) -> None:
    for notice in notices:
        try:
            _send(session, dispatcher, idle_gap, notice)
        except Exception:  # a notice must not undo the answer already sent; it is logged
            session.rollback()
            log.exception("notice failed user_id=%s route=%s", notice.user_id, notice.route)


def _send(session: Session, dispatcher: Dispatcher, idle_gap: timedelta, notice: Notice) -> None:
    user = session.get(User, notice.user_id)
    if user is None:
        return
    now = utcnow()
    way = reach(user, now, {"en": notice.template_sid, "ar": notice.template_sid}, notice.bot_initiated)
    recorded = _record(session, notice, user, way.language) if notice.record else None
    if notice.record and recorded is None:
        return  # sent (or being sent) already
    if way.how == SKIP:
        log.warning("notice skipped user_id=%s route=%s: %s", user.id, notice.route, way.reason)
        _settle(session, recorded, "skipped", None)
        return
    send = None
    if way.content_sid:
        send = {"content_sid": way.content_sid,
                "content_variables": json.dumps(notice.template_variables, ensure_ascii=False)}
    conversation_id = active_conversation(session.connection(), user.id, now, idle_gap)
    part = Message(conversation_id=conversation_id, user_id=user.id, direction="outbound", role="assistant",
                   body=notice.texts[way.language], status="pending", status_rank=0, part_index=0, part_count=1,
                   route=notice.route, language=way.language,
                   meta={**notice.meta, **({"send": send} if send else {})}, created_at=now, updated_at=now)
    session.add(part)
    session.execute(update(Conversation).where(Conversation.id == conversation_id)
                    .values(message_count=Conversation.message_count + 1, last_message_at=now))
    session.commit()
    sent = dispatcher.deliver(session, part, user.phone)
    _settle(session, recorded, "sent" if sent else "failed", part.id)


def _record(session: Session, notice: Notice, user: User, language: str) -> int | None:
    """Stores the notification (committed); None when this recipient already has it."""
    kind, ref_id = notice.record
    if session.scalar(select(Notification.id).where(Notification.user_id == user.id, Notification.kind == kind,
                                                    Notification.ref_id == ref_id)) is not None:
        return None
    row = Notification(user_id=user.id, kind=kind, ref_id=ref_id, body=notice.texts[language], status="pending",
                       created_at=utcnow())
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # the unique key: another process stored it first
        session.rollback()
        return None
    return row.id


def _settle(session: Session, notification_id: int | None, status: str, message_id: int | None) -> None:
    if notification_id is None:
        return
    session.execute(update(Notification).where(Notification.id == notification_id)
                    .values(status=status, message_id=message_id, sent_at=utcnow() if status == "sent" else None))
    session.commit()
