"""Answers to what the bot just asked: a number for a clarifying question, 👍/👎 after an answer, and the
text of a feedback message. Dialog state lives on the conversation row and expires after a while."""
from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

from sqlalchemy import update

from bot import catalog
from bot.handlers.understanding import answer_faq, answer_intent
from bot.nlu.normalize import normalize
from bot.router import Reply, TurnContext
from models import FAQ, AIInteraction
from models.base import utcnow

log = logging.getLogger(__name__)
EXPIRES = timedelta(minutes=30)  # the default of DIALOG_IDLE_MINUTES
POSITIVE = {"1", "yes", "y", "yeah", "yep", "helpful", "good", "great", "ok", "👍", "نعم", "اي", "ايوه", "ايه",
            "اجل", "مفيد", "مفيده", "تمام", "ممتاز", "صح", "زين", "كويس", "بلى"}
NEGATIVE = {"2", "no", "n", "nope", "not helpful", "bad", "👎", "لا", "لاء", "مو مفيد", "غير مفيد", "مش مفيد",
            "سيء", "ما فاد", "ما ساعدني"}
_THUMBS = re.compile(r"^\s*(👍|👎)[\U0001F3FB-\U0001F3FF]?\s*$")


def feedback_value(text: str, words_count: bool = True) -> int | None:
    """+1, -1 or None for a reply to "Was this helpful?"; with `words_count` off only 👍/👎 count."""
    thumbs = _THUMBS.match(text)
    if thumbs:
        return 1 if thumbs.group(1) == "👍" else -1
    if not words_count:
        return None
    words = normalize(text)
    if words in POSITIVE:
        return 1
    if words in NEGATIVE:
        return -1
    return None


def option_number(text: str, count: int) -> int | None:
    words = normalize(text)
    if words.isdigit() and 1 <= int(words) <= count:
        return int(words)
    return None


class PendingDialogHandler:
    def match(self, ctx: TurnContext) -> bool:
        awaiting = ctx.awaiting
        if not awaiting:
            return False
        if utcnow() - datetime.fromisoformat(awaiting["at"]) > EXPIRES:
            return False
        return True

    def handle(self, ctx: TurnContext) -> Reply | None:
        awaiting = ctx.awaiting
        kind = awaiting["kind"]
        if kind == "clarify":
            return self._clarified(ctx, awaiting)
        if kind == "feedback":
            return self._rated(ctx, awaiting)
        if kind == "free_feedback" and ctx.decision.route not in ("intent",):
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
        ctx.session.execute(update(AIInteraction).where(AIInteraction.id == awaiting["interaction_id"])
                            .values(feedback=value, feedback_at=utcnow()))
        if awaiting.get("faq_key"):
            counter = FAQ.helpful_count if value > 0 else FAQ.not_helpful_count
            ctx.session.execute(update(FAQ).where(FAQ.key == awaiting["faq_key"]).values({counter: counter + 1}))
        log.info("feedback recorded interaction_id=%s value=%d", awaiting["interaction_id"], value)
        key = "feedback_thanks" if value > 0 else "feedback_sorry"
        return Reply(catalog.say(key, ctx.language), "feedback", ctx.language,
                     meta={"feedback": value, "interaction_id": awaiting["interaction_id"]})
