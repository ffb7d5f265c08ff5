"""The rules gate: what a user writes is checked against the moderation rules (bot/dialog/moderation/rules.py)
before the matcher or the LLM see it. When rules hit, the strongest action decides (block ▸ replace ▸ flag) and
one flagged-content row records it, for the team to review (/flags); the organizers concerned (`team_of`: those
of the user's events, else the admins) are told on WhatsApp, once each.

- flag: the turn goes on to be answered as usual.
- block: the turn is stored but answered only by one short neutral notice; the FAQ, intents and LLM never see it.
- replace: the matched words become the rule's replacement (default ***) in what every later handler sees,
  the LLM included, this turn and in the history of later ones; the stored turn keeps what the user wrote.
"""
from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value

from bot.delivery.notify import Notice
from bot.dialog.context import Reply, TurnContext
from bot.dialog.handoff import team_of
from bot.dialog.moderation.rules import Hit, masked, rules_for, strongest
from bot.i18n import catalog
from models import FlaggedContent, User
from models.base import utcnow

log = logging.getLogger(__name__)
ROUTE = "moderation"
MODERATED_BODY = "moderated_body"  # the turn's text as the bot read it, in the message's metadata


def record_flag(ctx: TurnContext, hits: list[Hit]) -> FlaggedContent:
    """The turn's flagged-content row (one per message: a turn routed again finds its own)."""
    found = ctx.session.scalars(select(FlaggedContent).where(FlaggedContent.message_id == ctx.message.id)).first()
    if found is not None:
        return found
    top = strongest(hits)
    matched = ", ".join(dict.fromkeys(h.text for h in hits))
    flag = FlaggedContent(message_id=ctx.message.id, user_id=ctx.user.id, rule_id=top.rule.id,
                          action=top.rule.action, matched=matched[:500], status="pending", created_at=utcnow())
    ctx.session.add(flag)
    ctx.session.flush()
    log.info("message flagged flag_id=%s message_id=%s user_id=%s rule_id=%s action=%s", flag.id, ctx.message.id,
             ctx.user.id, top.rule.id, top.rule.action)
    return flag


def team_notices(ctx: TurnContext, flag: FlaggedContent, author: User) -> tuple[Notice, ...]:
    """One stored notification per organizer concerned (never the author), sent once each."""
    name = author.display_name or author.phone
    texts = {lang: catalog.say("flag_team", lang, id=flag.id, name=name, text=ctx.message.body.strip()[:200],
                               action=catalog.say(f"moderation_action_{flag.action}", lang), matched=flag.matched)
             for lang in ("en", "ar")}
    return tuple(Notice(member, texts, route="flag_notice", meta={"flag_id": flag.id}, record=("flagged", flag.id))
                 for member in team_of(ctx.session, author) if member != author.id)


class ModerationGate:
    def match(self, ctx: TurnContext) -> bool:
        self._hits = rules_for(ctx.session).find(ctx.text)
        return bool(self._hits)

    def handle(self, ctx: TurnContext) -> Reply | None:
        flag = record_flag(ctx, self._hits)
        ctx.notices.extend(team_notices(ctx, flag, ctx.user))
        if flag.action == "block":
            return Reply(catalog.say("moderation_blocked", ctx.language), ROUTE, ctx.language, route_key="blocked",
                         meta={"flag_id": flag.id})
        rewritten = masked(ctx.message.body, self._hits)
        if rewritten != ctx.message.body:
            # what the handlers after this one read (ctx.text, the LLM's turn), never written over the stored turn;
            # the metadata keeps it for the LLM's history of later turns
            set_committed_value(ctx.message, "body", rewritten)
            ctx.message.meta = {**(ctx.message.meta or {}), MODERATED_BODY: rewritten}
        return None
