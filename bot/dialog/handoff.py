"""Human handoff: an attendee asking for a person opens a handoff; the organizers of their events (else the
admins) are told on WhatsApp; the bot sends one acknowledgement and then stays silent in that conversation
(every turn is still stored) until the team closes it (/close), the attendee writes "bot", or nobody from the
team has answered for HANDOFF_IDLE_HOURS. The team answers with /reply ID TEXT (bot/dialog/console/)."""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.delivery.notify import Notice
from bot.dialog.context import Reply, TurnContext
from bot.i18n import catalog
from bot.nlu.normalize import normalize
from models import EventOrganizer, Handoff, Message, Registration, User
from models.base import utcnow

log = logging.getLogger(__name__)
ROUTE = "handoff"
BACK_TO_BOT = frozenset(normalize(w) for w in ("bot", "back to bot", "the bot", "البوت", "رجوع للبوت", "ارجع للبوت"))
LAST_MESSAGES = 3


def open_handoff(session: Session, user: User, conversation_id: int) -> Handoff:
    """The conversation's open handoff, opened now if there is none (one open per conversation)."""
    handoff = session.scalars(select(Handoff).where(Handoff.conversation_id == conversation_id,
                                                    Handoff.status == "open")).first()
    if handoff is None:
        handoff = Handoff(conversation_id=conversation_id, user_id=user.id, status="open", opened_at=utcnow())
        session.add(handoff)
        session.flush()
        log.info("handoff opened handoff_id=%s user_id=%s", handoff.id, user.id)
    return handoff


def team_of(session: Session, user: User) -> list[int]:
    """Who is told of the attendee's handoff: the organizers of their events, else the admins."""
    organizers = set(session.scalars(select(EventOrganizer.user_id)
                                     .join(Registration, Registration.event_id == EventOrganizer.event_id)
                                     .where(Registration.user_id == user.id)))
    if organizers:
        return sorted(organizers)
    return list(session.scalars(select(User.id).where(User.role == "admin").order_by(User.id)))


def team_notices(session: Session, handoff: Handoff, user: User, language: str, template_sid: str | None) -> tuple:
    rows = session.execute(select(Message.body).where(Message.conversation_id == handoff.conversation_id,
                                                      Message.direction == "inbound")
                           .order_by(Message.id.desc()).limit(LAST_MESSAGES)).scalars().all()
    lines = "\n".join(f"• {body[:200]}" for body in reversed(rows)) or "—"
    name = user.display_name or user.phone
    texts = {lang: catalog.say("handoff_team", lang, id=handoff.id, name=name, speaks=language, lines=lines)
             for lang in ("en", "ar")}
    variables = {"1": str(handoff.id), "2": name, "3": (rows[0] if rows else "")[:200]}
    return tuple(Notice(member, texts, route="handoff_notice", template_sid=template_sid,
                        template_variables=variables, meta={"handoff_id": handoff.id},
                        record=("handoff", handoff.id))
                 for member in team_of(session, user))


def close(session: Session, handoff: Handoff, reason: str, by: int | None = None) -> None:
    session.execute(update(Handoff).where(Handoff.id == handoff.id, Handoff.status == "open")
                    .values(status="closed", closed_at=utcnow(), closed_reason=reason, closed_by=by))
    log.info("handoff closed handoff_id=%s reason=%s", handoff.id, reason)


class HandoffGate:
    """While a person owns the conversation, the bot answers nothing (unless the attendee asks for the bot back,
    or the handoff went idle and returns to the bot)."""

    def match(self, ctx: TurnContext) -> bool:
        if not ctx.maybe_handed_off:
            return False
        self._handoff = ctx.session.scalars(select(Handoff).where(Handoff.conversation_id == ctx.conversation.id,
                                                                  Handoff.status == "open")).first()
        if self._handoff is None or self._handoff.user_id != ctx.user.id:
            return False
        idle = timedelta(hours=ctx.settings.handoff_idle_hours)
        if utcnow() - (self._handoff.last_agent_at or self._handoff.opened_at) > idle:
            close(ctx.session, self._handoff, "idle")  # back to the bot: the handlers after this one answer
            return False
        return True

    def handle(self, ctx: TurnContext) -> Reply:
        if normalize(ctx.text) in BACK_TO_BOT:
            close(ctx.session, self._handoff, "attendee", ctx.user.id)
            return Reply(catalog.say("handoff_back_to_bot", ctx.language), ROUTE, ctx.language, route_key="closed")
        return Reply("", ROUTE, ctx.language, route_key=f"open:{self._handoff.id}", silent=True)
