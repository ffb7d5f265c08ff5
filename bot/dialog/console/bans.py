"""/ban PHONE [DAYS] [reason] and /unban PHONE (audited with every command). PHONE may also be #FLAG: the
author of a flagged message this person may review, so an organizer need not know the full number.

Organizers may ban attendees; admins may also ban organizers; nobody bans an admin or themselves. Without
DAYS a ban lasts until lifted. The banned user is told once, at their next message (bot/dialog/moderation/).
"""
from __future__ import annotations

from sqlalchemy import select

from bot.core.errors import MalformedRequest
from bot.core.phones import user_address
from bot.core.sql import as_utc
from bot.dialog.console import flags
from bot.dialog.console.replies import Outcome, say
from bot.dialog.context import TurnContext
from bot.dialog.moderation import bans
from bot.i18n import localize
from models import User, UserBan

MAX_DAYS = 3650
BANNABLE_BY = {"organizer": ("attendee",), "admin": ("attendee", "organizer")}


def ban(ctx: TurnContext, arguments: list[str]) -> Outcome:
    target = _target(ctx, arguments)
    if isinstance(target, Outcome):
        return target
    days, reason = _days_and_reason(arguments[1:])
    if days is None:
        return Outcome(say(ctx, "console_ban_usage", "ban"), "invalid")
    name = flags.display(target)
    current = bans.active_ban(ctx.session, target.id)
    if current is not None:
        return Outcome(say(ctx, "console_ban_already", "ban", name=name, until=_until(ctx, current),
                           phone=arguments[0]), "already")
    row = bans.ban(ctx.session, target, ctx.user, days, reason)
    return Outcome(say(ctx, "console_banned", "ban", name=name, until=_until(ctx, row)),
                   detail=f"ban_id={row.id} user_id={target.id} days={days or 'until lifted'}")


def unban(ctx: TurnContext, arguments: list[str]) -> Outcome:
    target = _target(ctx, arguments)
    if isinstance(target, Outcome):
        return target
    current = bans.active_ban(ctx.session, target.id)
    if current is None:
        return Outcome(say(ctx, "console_not_banned", "unban", name=flags.display(target)), "already")
    bans.lift(ctx.session, current, ctx.user)
    return Outcome(say(ctx, "console_unbanned", "unban", name=flags.display(target)),
                   detail=f"ban_id={current.id} user_id={target.id}")


def _target(ctx: TurnContext, arguments: list[str]) -> User | Outcome:
    """The user the first argument names, if this person may ban them; else the Outcome that refuses."""
    if not arguments:
        return Outcome(say(ctx, "console_ban_usage", "ban"), "invalid")
    target = _named(ctx, arguments[0])
    if target is None:
        return Outcome(say(ctx, "console_no_such_user", "ban", phone=arguments[0]), "not_found")
    if target.id == ctx.user.id or target.role not in BANNABLE_BY.get(ctx.user.role, ()):
        return Outcome(say(ctx, "console_ban_not_allowed", "ban", name=flags.display(target)), "refused")
    return target


def _named(ctx: TurnContext, argument: str) -> User | None:
    if argument.startswith("#"):
        found = flags.find(ctx.session, ctx.user, argument)
        return None if found is None else found[1]
    try:
        address = user_address(argument)
    except MalformedRequest:
        return None
    return ctx.session.scalars(select(User).where(User.phone == address)).first()


def _days_and_reason(rest: list[str]) -> tuple[int | None, str | None]:
    """(days — 0 for until lifted, None when out of range — and the reason) from what follows the phone."""
    days = 0
    if rest and rest[0].isdigit():
        days, rest = int(rest[0]), rest[1:]
        if not 1 <= days <= MAX_DAYS:
            return None, None
    return days, " ".join(rest)[:500] or None


def _until(ctx: TurnContext, row: UserBan) -> str:
    if row.expires_at is None:
        return say(ctx, "console_ban_open", "ban").text
    return say(ctx, "console_ban_until", "ban", when=localize.when(as_utc(row.expires_at), ctx.language)).text
