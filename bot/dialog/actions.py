"""The Python actions intents name (`action:` in intents/*.yaml): account requests and journeys started from
free text."""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from bot.dialog import account
from bot.dialog.context import Reply, TurnContext
from bot.dialog.journeys import booking, browse, menu, tickets
from bot.nlu.intents import Intent

Action = Callable[[TurnContext, Intent, float], Reply]


def _journey(start: Callable[[TurnContext, float], Reply]) -> Action:
    """A journey started from free text, recorded under the intent that started it."""
    def run_journey(ctx: TurnContext, intent: Intent, confidence: float) -> Reply:
        return replace(start(ctx, confidence), route="intent", route_key=intent.name, confidence=confidence)
    return run_journey


ACTIONS: dict[str, Action] = {
    "request_human": account.request_human,
    "collect_feedback": account.collect_feedback,
    "switch_language": account.switch_language,
    "show_menu": _journey(lambda ctx, confidence: menu.show_menu(ctx, "intent", confidence)),
    "show_events": _journey(browse.show_named_or_upcoming),
    "show_tickets": _journey(lambda ctx, confidence: tickets.show_tickets(ctx, "intent", confidence)),
    "start_registration": _journey(booking.start_registration),
    "start_cancel": _journey(tickets.start_cancel),
}


def run(name: str, ctx: TurnContext, intent: Intent, confidence: float) -> Reply:
    return ACTIONS[name](ctx, intent, confidence)
