"""/flags, /flags approve ID, /flags reject ID: the queue of messages the moderation rules flagged.

Who sees a flag is who was told of it: the organizers of the author's events (`bot.dialog.handoff.team_of`), and
every admin. Approve means the message is fine (a false alarm); reject means it breaks the rules (the answer
suggests /ban). Either only records the review: what the bot did with the turn stays as it was.
"""
from __future__ import annotations

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from bot.core.phones import mask
from bot.core.sql import as_utc
from bot.dialog.console.replies import Outcome, say
from bot.dialog.context import TurnContext
from bot.i18n import catalog, localize
from models import EventOrganizer, FlaggedContent, Message, Registration, User
from models.base import utcnow

SHOWN = 10
REVIEWS = {"approve": "approved", "قبول": "approved", "موافقة": "approved",
           "reject": "rejected", "رفض": "rejected"}


def visible(query, user: User):
    """`query` (over FlaggedContent) narrowed to the flags this person may review."""
    if user.role == "admin":
        return query
    return query.where(exists().where(Registration.user_id == FlaggedContent.user_id,
                                      EventOrganizer.event_id == Registration.event_id,
                                      EventOrganizer.user_id == user.id))


def find(session: Session, user: User, argument: str) -> tuple[FlaggedContent, User] | None:
    """The flag '#12' / '12' names, with its author, if this person may see it."""
    number = argument.lstrip("#")
    if not number.isdigit():
        return None
    query = (select(FlaggedContent, User).join(User, User.id == FlaggedContent.user_id)
             .where(FlaggedContent.id == int(number)))
    row = session.execute(visible(query, user)).first()
    return None if row is None else (row[0], row[1])


def flags(ctx: TurnContext, arguments: list[str]) -> Outcome:
    if not arguments:
        return _pending(ctx)
    review = REVIEWS.get(arguments[0].lower())
    if review is None or len(arguments) < 2:
        return Outcome(say(ctx, "console_flags_usage", "flags"), "invalid")
    found = find(ctx.session, ctx.user, arguments[1])
    if found is None:
        return Outcome(say(ctx, "console_no_such_flag", "flags", id=arguments[1]), "not_found")
    flag, author = found
    name = display(author)
    if flag.status != "pending":
        return Outcome(say(ctx, "console_flag_already", "flags", id=flag.id, status=flag.status), "already")
    flag.status, flag.reviewed_by, flag.reviewed_at = review, ctx.user.id, utcnow()
    key = "console_flag_approved" if review == "approved" else "console_flag_rejected"
    return Outcome(say(ctx, key, "flags", id=flag.id, name=name), detail=f"flag_id={flag.id} status={review}")


def _pending(ctx: TurnContext) -> Outcome:
    query = visible(select(FlaggedContent, User, Message.body).join(User, User.id == FlaggedContent.user_id)
                    .join(Message, Message.id == FlaggedContent.message_id)
                    .where(FlaggedContent.status == "pending"), ctx.user)
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery()))
    if not total:
        return Outcome(say(ctx, "console_flags_none", "flags"))
    rows = ctx.session.execute(query.order_by(FlaggedContent.id).limit(SHOWN)).all()
    lines = "\n".join(_line(ctx, flag, author, body) for flag, author, body in rows)
    more = say(ctx, "console_flags_more", "flags", more=localize.number(total - len(rows), ctx.language)).text
    return Outcome(say(ctx, "console_flags", "flags", count=localize.number(total, ctx.language),
                       lines=lines + (more if total > len(rows) else "")))


def display(user: User) -> str:
    phone = mask(user.phone)
    return f"{user.display_name} ({phone})" if user.display_name else phone


def _line(ctx: TurnContext, flag: FlaggedContent, author: User, body: str) -> str:
    return say(ctx, "console_flag_line", "flags", id=flag.id, name=display(author),
               action=catalog.say(f"moderation_action_{flag.action}", ctx.language),
               since=localize.when(as_utc(flag.created_at), ctx.language), text=body.strip()[:120],
               matched=flag.matched or "—").text
