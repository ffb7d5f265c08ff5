"""STOP / إيقاف and START / اشتراك: opt out of (and back into) messages the bot starts, with one confirmation
in the user's language that says how to come back. Checked right after the organizer console, so the words are
never answered as questions."""
from __future__ import annotations

from bot.delivery import consent
from bot.dialog.context import Reply, TurnContext
from bot.i18n import catalog


class ConsentHandler:
    def match(self, ctx: TurnContext) -> bool:
        return consent.keyword(ctx.text) is not None

    def handle(self, ctx: TurnContext) -> Reply:
        action = consent.keyword(ctx.text)
        if action == "opt_out":
            consent.opt_out(ctx.session, ctx.user, ctx.text.strip().lower())
        else:
            consent.opt_in(ctx.session, ctx.user, ctx.text.strip().lower())
        key = "opted_out" if action == "opt_out" else "opted_in"
        return Reply(catalog.say(key, ctx.language), "consent", ctx.language, route_key=action, action_taken=action)
