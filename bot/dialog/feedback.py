"""Answers to what the bot just asked outside the journeys: a number for a clarifying question, 👍/👎 after an
answer, and the text of a feedback message (the dialog state says which; bot/dialog/state.py)."""
from __future__ import annotations

import logging

from sqlalchemy import update

from bot.dialog.answers import answer_intent
from bot.dialog.context import Reply, TurnContext
from bot.dialog.faq import answer_faq
from bot.dialog.words import feedback_value, option_number
from bot.i18n import catalog
from models import FAQ, AIInteraction
from models.base import utcnow

log = logging.getLogger(__name__)
KINDS = ("clarify", "feedback", "free_feedback")


class PendingDialogHandler:
    def match(self, ctx: TurnContext) -> bool:
        awaiting = ctx.awaiting
        return bool(awaiting) and awaiting.get("kind") in KINDS

    def handle(self, ctx: TurnContext) -> Reply | None:
        awaiting = ctx.awaiting
        kind = awaiting["kind"]
        if kind == "clarify":
            return self._clarified(ctx, awaiting)
        if kind == "feedback":
            return self._rated(ctx, awaiting)
        if ctx.decision.route != "intent":  # free feedback: anything but a recognised request is the feedback
            log.info("feedback received user_id=%s message_id=%s", ctx.user.id, ctx.message.id)
            return Reply(catalog.say("feedback_received", ctx.language), "feedback", ctx.language,
                         meta={"feedback_text": True})
        return None

    def _clarified(self, ctx: TurnContext, awaiting: dict) -> Reply | None:
        options = awaiting["options"]
        number = option_number(ctx.text, len(options))
        if number is None:
            return None
        chosen = options[number - 1]
        if chosen["kind"] == "intent":
            return answer_intent(ctx, chosen["key"], 1.0)
        if chosen["key"] in ctx.knowledge.faqs:
            return answer_faq(ctx, chosen["key"], 1.0)
        return None

    def _rated(self, ctx: TurnContext, awaiting: dict) -> Reply | None:
        value = feedback_value(ctx.text, words_count=awaiting.get("prompted", True))
        if value is None:
            return None
        return rate(ctx, awaiting["interaction_id"], awaiting.get("faq_key"), value)


def rate(ctx: TurnContext, interaction_id: int, faq_key: str | None, value: int) -> Reply:
    """Records 👍 (+1) or 👎 (-1) on an answer's interaction (and its FAQ entry's counters) and thanks the user."""
    ctx.session.execute(update(AIInteraction).where(AIInteraction.id == interaction_id)
                        .values(feedback=value, feedback_at=utcnow()))
    if faq_key:
        counter = FAQ.helpful_count if value > 0 else FAQ.not_helpful_count
        ctx.session.execute(update(FAQ).where(FAQ.key == faq_key).values({counter: counter + 1}))
    log.info("feedback recorded interaction_id=%s value=%d", interaction_id, value)
    key = "feedback_thanks" if value > 0 else "feedback_sorry"
    return Reply(catalog.say(key, ctx.language), "feedback", ctx.language,
                 meta={"feedback": value, "interaction_id": interaction_id})


class AnswerReactionHandler:
    """A WhatsApp reaction (or a reply) of 👍 / 👎 to one of the bot's answers is feedback on that answer."""

    def match(self, ctx: TurnContext) -> bool:
        replied = ctx.replied_to
        return (replied is not None and bool((replied.meta or {}).get("interaction_id"))
                and feedback_value(ctx.text, words_count=False) is not None)

    def handle(self, ctx: TurnContext) -> Reply:
        replied = ctx.replied_to
        faq_key = replied.route_key if replied.route == "faq" else None
        return rate(ctx, replied.meta["interaction_id"], faq_key, feedback_value(ctx.text, words_count=False))
