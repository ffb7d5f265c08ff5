"""Intents, FAQ answers and clarifying questions, from the matcher's decision."""
from __future__ import annotations

import logging
from dataclasses import replace

from sqlalchemy import update

from bot import actions, catalog
from bot.knowledge import Candidate
from bot.router import Reply, TurnContext
from models import FAQ, AIInteraction
from models.base import utcnow

log = logging.getLogger(__name__)
CLARIFY_OPTIONS = 3


def answer_intent(ctx: TurnContext, name: str, confidence: float) -> Reply:
    intent = ctx.knowledge.intents[name]
    if intent.action:
        return actions.run(intent.action, ctx, intent, confidence)
    name_part = f" {ctx.user.display_name}" if ctx.user.display_name and name == "greeting" else ""
    text = (intent.responses.get(ctx.language) or intent.responses.get("en", "")).format(name=name_part)
    return Reply(text, "intent", ctx.language, route_key=name, confidence=confidence)


def answer_faq(ctx: TurnContext, key: str, confidence: float) -> Reply:
    """The entry's answer in the user's language (else the other, logging the gap), with a feedback prompt."""
    text, answered_in = ctx.knowledge.faqs[key].answer(ctx.language)
    language = ctx.language
    meta = {}
    if answered_in != language:
        meta["faq_gap"] = language
        log.warning("faq answer missing key=%s language=%s", key, language)
    ctx.session.execute(update(FAQ).where(FAQ.key == key).values(view_count=FAQ.view_count + 1))
    interaction = AIInteraction(message_id=ctx.message.id, conversation_id=ctx.message.conversation_id,
                                user_id=ctx.user.id, route="faq", route_key=key, response=text, created_at=utcnow())
    ctx.session.add(interaction)
    ctx.session.flush()
    return with_feedback_prompt(ctx, Reply(text, "faq", language, route_key=key, confidence=confidence, meta=meta),
                                interaction.id)


def with_feedback_prompt(ctx: TurnContext, reply: Reply, interaction_id: int) -> Reply:
    prompted = bool(ctx.settings.feedback_prompt)
    # Unprompted, only 👍/👎 count as a rating: a plain "ok" or "2" is then an ordinary message.
    awaiting = {"kind": "feedback", "interaction_id": interaction_id, "prompted": prompted,
                "faq_key": reply.route_key if reply.route == "faq" else None, "at": utcnow().isoformat()}
    text = reply.text
    if prompted:
        text = f"{text}\n\n{catalog.say('feedback_prompt', reply.language)}"
    return replace(reply, text=text, meta={**reply.meta, "interaction_id": interaction_id}, awaiting=awaiting)


class IntentHandler:
    def match(self, ctx: TurnContext) -> bool:
        return ctx.decision.route == "intent"

    def handle(self, ctx: TurnContext) -> Reply:
        return answer_intent(ctx, ctx.decision.key, ctx.decision.confidence)


class FAQHandler:
    def match(self, ctx: TurnContext) -> bool:
        return ctx.decision.route == "faq"

    def handle(self, ctx: TurnContext) -> Reply:
        return answer_faq(ctx, ctx.decision.key, ctx.decision.confidence)


def option_label(ctx: TurnContext, candidate: Candidate) -> str:
    if candidate.kind == "faq":
        return ctx.knowledge.faqs[candidate.key].question(ctx.language)
    intent = ctx.knowledge.intents[candidate.key]
    examples = intent.examples_ar if ctx.language == "ar" else intent.examples_en
    return examples[0] if examples else candidate.key


class ClarifyHandler:
    """Between the thresholds: a numbered question, answerable with the number."""

    def match(self, ctx: TurnContext) -> bool:
        return ctx.decision.route == "clarify"

    def handle(self, ctx: TurnContext) -> Reply:
        low = ctx.knowledge.low
        options = [c for c in ctx.decision.candidates if c.score >= low / 2][:CLARIFY_OPTIONS]
        lines = "\n".join(f"{i}) {option_label(ctx, c)}" for i, c in enumerate(options, start=1))
        awaiting = {"kind": "clarify", "at": utcnow().isoformat(),
                    "options": [{"key": c.key, "kind": c.kind, "score": c.score} for c in options]}
        return Reply(catalog.say("clarify", ctx.language, options=lines), "clarify", ctx.language,
                     route_key=ctx.decision.key, confidence=ctx.decision.confidence, awaiting=awaiting)
