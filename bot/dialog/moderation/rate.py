"""The per-phone rate limit (`USER_RATE_LIMIT` turns a minute; 0 turns it off): past it, one polite notice
per window, then silence for the rest of that window; every turn is stored. Organizers and admins are not
limited (a busy door checks in more than 20 tickets a minute).

Windows are fixed minutes of the turn's arrival time (`messages.created_at`), so a backlog answered late is
counted when it came. A turn's position in its window comes from Redis when the process has it
(`bot.core.rate_limit.TurnCounter`: the same answer for a turn asked twice, and for every worker), else from the
stored turns themselves — the embedded mode, and the fallback when Redis fails. Both count the turns that
reach this gate, i.e. all but a banned user's.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import redis
from sqlalchemy import func, select

from bot.core.sql import as_utc
from bot.delivery import consent as consent_words
from bot.dialog.consent import ConsentHandler
from bot.dialog.context import Reply, TurnContext
from bot.dialog.moderation.bans import ROUTE as BAN_ROUTE
from bot.dialog.moderation.bans import quietly
from bot.i18n import catalog
from models import Message

log = logging.getLogger(__name__)
ROUTE = "rate_limit"
WINDOW_SECONDS = 60
UNLIMITED_ROLES = ("organizer", "admin")


def window_of(ctx: TurnContext) -> int:
    return int(as_utc(ctx.message.created_at).timestamp()) // WINDOW_SECONDS


def position(ctx: TurnContext, window: int) -> int:
    """This turn's place among the user's turns in `window` (1 = the first)."""
    if ctx.turn_counter is not None:
        try:
            return ctx.turn_counter.position(ctx.user.id, ctx.message.id, window)
        except redis.RedisError:
            log.warning("rate limit counted in the database (Redis failed) user_id=%s", ctx.user.id, exc_info=True)
    return stored_position(ctx, window)


def stored_position(ctx: TurnContext, window: int) -> int:
    start = datetime.fromtimestamp(window * WINDOW_SECONDS, timezone.utc)
    return ctx.session.scalar(
        select(func.count(Message.id)).where(
            Message.user_id == ctx.user.id, Message.direction == "inbound", Message.id <= ctx.message.id,
            Message.created_at >= start, Message.created_at < start + timedelta(seconds=WINDOW_SECONDS),
            func.coalesce(Message.route, "") != BAN_ROUTE))


class RateLimitGate:
    def match(self, ctx: TurnContext) -> bool:
        limit = ctx.settings.user_rate_limit
        if limit <= 0 or ctx.user.role in UNLIMITED_ROLES:
            return False
        self._over = position(ctx, window_of(ctx)) - limit
        return self._over > 0

    def handle(self, ctx: TurnContext) -> Reply:
        if consent_words.keyword(ctx.text):
            return quietly(ConsentHandler().handle(ctx))
        if self._over == 1:
            return Reply(catalog.say("rate_limited", ctx.language), ROUTE, ctx.language, route_key="notice")
        return Reply("", ROUTE, ctx.language, route_key="silent", silent=True)
