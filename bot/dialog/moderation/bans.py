"""Bans: a banned user gets one notice in their language (`UserBan.notified_at`), then silence; every turn is
still stored. A ban ends when it expires (`expires_at`, None = until lifted) or is lifted (/unban). STOP and
START still take effect for a banned user — opting out is theirs to do — but silently."""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot.core.sql import as_utc
from bot.delivery import consent as consent_words
from bot.dialog.consent import ConsentHandler
from bot.dialog.context import Reply, TurnContext
from bot.i18n import catalog, localize
from models import User, UserBan
from models.base import utcnow

log = logging.getLogger(__name__)
ROUTE = "ban"


def active_ban(session: Session, user_id: int, now: datetime | None = None) -> UserBan | None:
    """The user's ban in force (the latest, should there be several), or None."""
    now = now or utcnow()
    return session.scalars(select(UserBan).where(UserBan.user_id == user_id, UserBan.lifted_at.is_(None),
                                                 or_(UserBan.expires_at.is_(None), UserBan.expires_at > now))
                           .order_by(UserBan.id.desc()).limit(1)).first()


def ban(session: Session, user: User, by: User | None, days: int | None, reason: str | None) -> UserBan:
    now = utcnow()
    row = UserBan(user_id=user.id, reason=reason, banned_by=by.id if by else None, created_at=now,
                  expires_at=now + timedelta(days=days) if days else None)
    session.add(row)
    session.flush()
    log.info("user banned ban_id=%s user_id=%s by=%s days=%s", row.id, user.id, row.banned_by, days)
    return row


def lift(session: Session, row: UserBan, by: User | None) -> None:
    session.execute(update(UserBan).where(UserBan.id == row.id, UserBan.lifted_at.is_(None))
                    .values(lifted_at=utcnow(), lifted_by=by.id if by else None))
    log.info("ban lifted ban_id=%s user_id=%s by=%s", row.id, row.user_id, by.id if by else None)


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def history(session: Session, user: User) -> list[dict]:
    """Every ban of the user, oldest first, with who banned and lifted it (by phone): for `users export`."""
    phones = dict(session.execute(select(User.id, User.phone)).all())
    rows = session.scalars(select(UserBan).where(UserBan.user_id == user.id).order_by(UserBan.id))
    return [{"reason": b.reason, "banned_by": phones.get(b.banned_by), "created_at": _iso(b.created_at),
             "expires_at": _iso(b.expires_at), "lifted_at": _iso(b.lifted_at), "lifted_by": phones.get(b.lifted_by),
             "notified_at": _iso(b.notified_at)} for b in rows]


def notice(row: UserBan, language: str) -> str:
    if row.expires_at is None:
        return catalog.say("ban_notice", language)
    return catalog.say("ban_notice_until", language, until=localize.when(as_utc(row.expires_at), language))


def quietly(reply: Reply) -> Reply:
    """What a gate that silences a user does with their STOP / START: it takes effect, nothing is sent."""
    return replace(reply, silent=True)


class BanGate:
    """First of all the handlers: a banned user is answered by nobody, their commands included."""

    def match(self, ctx: TurnContext) -> bool:
        self._ban = active_ban(ctx.session, ctx.user.id) if ctx.maybe_banned else None
        return self._ban is not None

    def handle(self, ctx: TurnContext) -> Reply:
        if consent_words.keyword(ctx.text):
            return quietly(ConsentHandler().handle(ctx))
        claimed = ctx.session.execute(update(UserBan).where(UserBan.id == self._ban.id, UserBan.notified_at.is_(None))
                                      .values(notified_at=utcnow())).rowcount
        if claimed:  # the one notice; the turn's commit stores it with the reply
            return Reply(notice(self._ban, ctx.language), ROUTE, ctx.language, route_key="notice",
                         meta={"ban_id": self._ban.id})
        return Reply("", ROUTE, ctx.language, route_key=f"silent:{self._ban.id}", silent=True)
