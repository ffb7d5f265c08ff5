"""Messages the bot sends beside an answer: telling organizers of a handoff, relaying the team's reply to an
attendee. Each is stored in the recipient's conversation and sent like any part (claim, retries, status),
free-form inside WhatsApp's 24-hour window, an approved template outside it (or skipped, logged, without one).
Notices the bot starts itself skip opted-out users; a person's relayed reply does not."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.delivery.conversations import active_conversation
from bot.delivery.sending import Dispatcher
from bot.delivery.window import in_window
from models import Conversation, Message, User
from models.base import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    """One message to one user: the text in each language, the template for outside the window."""

    user_id: int
    texts: dict[str, str]  # {"en": ..., "ar": ...}; the recipient's language is used
    route: str = "notification"
    template_sid: str | None = None
    template_variables: dict = field(default_factory=dict)
    bot_initiated: bool = True  # False for a person's reply relayed by the bot
    meta: dict = field(default_factory=dict)


def send_notices(session: Session, dispatcher: Dispatcher, idle_gap: timedelta, notices) -> None:
    for notice in notices:
        try:
            _send(session, dispatcher, idle_gap, notice)
        except Exception:  # a notice must not undo the answer already sent; it is logged
            session.rollback()
            log.exception("notice failed user_id=%s route=%s", notice.user_id, notice.route)


def _send(session: Session, dispatcher: Dispatcher, idle_gap: timedelta, notice: Notice) -> None:
    user = session.get(User, notice.user_id)
    if user is None or (notice.bot_initiated and user.opted_out_at is not None):
        return
    now, language = utcnow(), "ar" if user.preferred_language == "ar" else "en"
    send = None
    if not in_window(user.last_inbound_at, now):
        if not notice.template_sid:
            log.warning("notice skipped user_id=%s route=%s: outside the 24 h window and no template",
                        user.id, notice.route)
            return
        send = {"content_sid": notice.template_sid,
                "content_variables": json.dumps(notice.template_variables, ensure_ascii=False)}
    conversation_id = active_conversation(session.connection(), user.id, now, idle_gap)
    part = Message(conversation_id=conversation_id, user_id=user.id, direction="outbound", role="assistant",
                   body=notice.texts[language], status="pending", status_rank=0, part_index=0, part_count=1,
                   route=notice.route, language=language, meta={**notice.meta, **({"send": send} if send else {})},
                   created_at=now, updated_at=now)
    session.add(part)
    session.execute(update(Conversation).where(Conversation.id == conversation_id)
                    .values(message_count=Conversation.message_count + 1, last_message_at=now))
    session.commit()
    dispatcher.deliver(session, part, user.phone)
