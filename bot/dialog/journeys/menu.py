"""The menu ("menu" / "القائمة" from anywhere) and its FAQ topics."""
from __future__ import annotations

from bot.dialog import account
from bot.dialog.context import Reply, TurnContext
from bot.dialog.faq import answer_faq
from bot.dialog.journeys import browse, tickets
from bot.dialog.journeys.common import number_text, say, step
from bot.dialog.words import option_number


def show_menu(ctx: TurnContext, route: str = "dialog", confidence: float | None = None) -> Reply:
    return step(ctx, say(ctx, "menu"), "menu", {"kind": "menu"}, route=route, confidence=confidence)


def menu_choice(ctx: TurnContext, state: dict) -> Reply | None:
    number = option_number(ctx.text, 5)
    if number is None:
        return None
    if number == 1:
        return browse.show_events(ctx)
    if number == 2:
        return tickets.show_tickets(ctx)
    if number == 3:
        return show_faq_topics(ctx)
    if number == 4:
        return account.request_human(ctx, ctx.knowledge.intents["human"], 1.0)
    return account.set_language(ctx, "ar" if ctx.language == "en" else "en", "language", 1.0)


def show_faq_topics(ctx: TurnContext) -> Reply:
    faqs = list(ctx.knowledge.faqs.values())[:9]
    if not faqs:
        return step(ctx, say(ctx, "faq_topics_none"), "faq_topics")
    options = "\n".join(f"{number_text(ctx, i)}) {f.question(ctx.language)}" for i, f in enumerate(faqs, start=1))
    return step(ctx, say(ctx, "faq_topics", options=options), "faq_topics",
                {"kind": "faq_topics", "keys": [f.key for f in faqs]})


def faq_topic_choice(ctx: TurnContext, state: dict) -> Reply | None:
    number = option_number(ctx.text, len(state["keys"]))
    if number is None or state["keys"][number - 1] not in ctx.knowledge.faqs:
        return None
    return answer_faq(ctx, state["keys"][number - 1], 1.0)
