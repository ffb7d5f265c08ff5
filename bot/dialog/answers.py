"""Intents, FAQ answers and clarifying questions, from the matcher's decision."""
from __future__ import annotations

from bot.dialog import actions, state
from bot.dialog.context import Reply, TurnContext
from bot.dialog.faq import answer_faq
from bot.i18n import catalog
from bot.nlu.knowledge import Candidate

CLARIFY_OPTIONS = 3


def answer_intent(ctx: TurnContext, name: str, confidence: float) -> Reply:
    intent = ctx.knowledge.intents[name]
    if intent.action:
        return actions.run(intent.action, ctx, intent, confidence)
    name_part = f" {ctx.user.display_name}" if ctx.user.display_name and name in ("greeting", "how_are_you") else ""
    text = (intent.responses.get(ctx.language) or intent.responses.get("en", "")).format(name=name_part)
    return Reply(text, "intent", ctx.language, route_key=name, confidence=confidence)


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
        awaiting = state.stamped({"kind": "clarify",
                                  "options": [{"key": c.key, "kind": c.kind, "score": c.score} for c in options]})
        return Reply(catalog.say("clarify", ctx.language, options=lines), "clarify", ctx.language,
                     route_key=ctx.decision.key, confidence=ctx.decision.confidence, awaiting=awaiting)
