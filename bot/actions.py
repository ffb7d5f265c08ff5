"""Python actions named by intents (`action:` in intents/*.yaml)."""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Callable

from bot import catalog
from bot.intents import Intent
from bot.nlu.normalize import normalize
from bot.router import Reply, TurnContext
from models.base import utcnow

log = logging.getLogger(__name__)
ARABIC_STEMS = ("عربي", "arab", "3arab")  # عربي، بالعربي، للعربي، العربيه، arabic, 3arabi
ENGLISH_STEMS = ("انجليز", "انقليز", "english", "inglizi")


def request_human(ctx: TurnContext, intent: Intent, confidence: float) -> Reply:
    """Records the request on the conversation; the organizers issue routes it to a person's inbox."""
    log.info("human requested user_id=%s conversation_id=%s", ctx.user.id, ctx.conversation.id)
    context = dict(ctx.conversation.context or {})
    context["handoff_requested_at"] = utcnow().isoformat()
    ctx.conversation.context = context
    return Reply(catalog.say("human_requested", ctx.language), "intent", ctx.language, route_key=intent.name,
                 confidence=confidence)


def collect_feedback(ctx: TurnContext, intent: Intent, confidence: float) -> Reply:
    return Reply(catalog.say("feedback_invite", ctx.language), "intent", ctx.language, route_key=intent.name,
                 confidence=confidence, awaiting={"kind": "free_feedback", "at": utcnow().isoformat()})


def switch_language(ctx: TurnContext, intent: Intent, confidence: float) -> Reply:
    """"English" / "عربي" pick a language explicitly; it sticks until the user switches again."""
    words = normalize(ctx.text).split()
    if any(stem in w for w in words for stem in ARABIC_STEMS):
        target = "ar"
    elif any(stem in w for w in words for stem in ENGLISH_STEMS) or "eng" in words or "en" in words:
        target = "en"
    else:
        target = "en" if ctx.language == "ar" else "ar"
    return set_language(ctx, target, intent.name, confidence)


def set_language(ctx: TurnContext, target: str, key: str, confidence: float) -> Reply:
    ctx.user.preferred_language = target
    ctx.user.language_explicit = True
    return Reply(catalog.say("language_set", target), "intent", target, route_key=key, confidence=confidence)


def _journey(name: str) -> Callable[[TurnContext, Intent, float], Reply]:
    """An attendee journey started from free text (bot/handlers/journeys.py), which is imported when first
    run: it imports the understanding handlers, which import this module."""
    def run_journey(ctx: TurnContext, intent: Intent, confidence: float) -> Reply:
        from bot.handlers import journeys
        starts = {"show_menu": lambda: journeys.show_menu(ctx, "intent", confidence),
                  "show_events": lambda: journeys.show_named_or_upcoming(ctx, confidence),
                  "show_tickets": lambda: journeys.show_tickets(ctx, "intent", confidence),
                  "start_registration": lambda: journeys.start_registration(ctx, confidence),
                  "start_cancel": lambda: journeys.start_cancel(ctx, confidence)}
        return replace(starts[name](), route="intent", route_key=intent.name, confidence=confidence)
    return run_journey


ACTIONS: dict[str, Callable[[TurnContext, Intent, float], Reply]] = {
    "request_human": request_human, "collect_feedback": collect_feedback, "switch_language": switch_language,
    **{name: _journey(name) for name in ("show_menu", "show_events", "show_tickets", "start_registration",
                                         "start_cancel")},
}


def run(name: str, ctx: TurnContext, intent: Intent, confidence: float) -> Reply:
    return ACTIONS[name](ctx, intent, confidence)
