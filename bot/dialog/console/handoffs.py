"""/handoffs, /reply ID TEXT, /close ID: the events team answering attendees who asked for a person. A relayed
reply is stored in the attendee's conversation as the team's (author kept) and sent through the bot's number."""
from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select, update

from bot.delivery.notify import Notice
from bot.dialog import handoff
from bot.dialog.console.replies import Outcome, say
from bot.dialog.context import TurnContext
from bot.i18n import catalog, localize
from models import Handoff, Message, User
from models.base import utcnow


def handoffs(ctx: TurnContext, arguments: list[str]) -> Outcome:
    mine = waiting(ctx)
    if not mine:
        return Outcome(say(ctx, "console_handoffs_none", "handoffs"))
    lines = "\n".join(_line(ctx, h, u) for h, u in mine)
    return Outcome(say(ctx, "console_handoffs", "handoffs", lines=lines))


def waiting(ctx: TurnContext) -> list[tuple[Handoff, User]]:
    """The open handoffs this person may answer, oldest first, with their attendees."""
    rows = ctx.session.execute(select(Handoff, User).join(User, User.id == Handoff.user_id)
                               .where(Handoff.status == "open").order_by(Handoff.id)).all()
    return [(h, u) for h, u in rows if _may_answer(ctx, u)]


def reply(ctx: TurnContext, arguments: list[str]) -> Outcome:
    found = _open(ctx, arguments)
    if isinstance(found, Outcome):
        return found
    text = " ".join(arguments[1:]).strip()
    if not text:
        return Outcome(say(ctx, "console_reply_usage", "reply"), "invalid")
    opened, attendee = found
    ctx.session.execute(update(Handoff).where(Handoff.id == opened.id).values(last_agent_at=utcnow()))
    relay = Notice(attendee.id, {lang: catalog.say("handoff_relay", lang, text=text) for lang in ("en", "ar")},
                   route="agent", bot_initiated=False, meta={"handoff_id": opened.id, "author_id": ctx.user.id})
    done = say(ctx, "console_relayed", "reply", id=opened.id, name=attendee.display_name or attendee.phone)
    return Outcome(replace(done, notify=(relay,)), detail=f"handoff_id={opened.id}")


def close(ctx: TurnContext, arguments: list[str]) -> Outcome:
    found = _open(ctx, arguments)
    if isinstance(found, Outcome):
        return found
    opened, attendee = found
    handoff.close(ctx.session, opened, "organizer", ctx.user.id)
    note = Notice(attendee.id, {lang: catalog.say("handoff_closed_note", lang) for lang in ("en", "ar")},
                  route="agent", bot_initiated=False, meta={"handoff_id": opened.id})
    done = say(ctx, "console_closed", "close", id=opened.id)
    return Outcome(replace(done, notify=(note,)), detail=f"handoff_id={opened.id}")


def _open(ctx: TurnContext, arguments: list[str]):
    """(the open handoff, its attendee) named by the first argument, or the Outcome that refuses it."""
    if not arguments or not arguments[0].lstrip("#").isdigit():
        return Outcome(say(ctx, "console_reply_usage", "handoff"), "invalid")
    row = ctx.session.execute(select(Handoff, User).join(User, User.id == Handoff.user_id)
                              .where(Handoff.id == int(arguments[0].lstrip("#")), Handoff.status == "open")).first()
    if row is None or not _may_answer(ctx, row[1]):
        return Outcome(say(ctx, "console_no_such_handoff", "handoff", id=arguments[0]), "not_found")
    return row[0], row[1]


def _may_answer(ctx: TurnContext, attendee: User) -> bool:
    return ctx.user.role == "admin" or ctx.user.id in handoff.team_of(ctx.session, attendee)


def _line(ctx: TurnContext, opened: Handoff, attendee: User) -> str:
    last = ctx.session.scalar(select(Message.body).where(Message.conversation_id == opened.conversation_id,
                                                         Message.direction == "inbound")
                              .order_by(Message.id.desc()).limit(1)) or "—"
    return say(ctx, "console_handoff_line", "handoffs", id=opened.id, name=attendee.display_name or attendee.phone,
               since=localize.when(opened.opened_at, ctx.language), last=last[:120]).text
