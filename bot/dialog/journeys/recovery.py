"""A step that survives an unexpected reply: a number out of range is asked again with the valid range, "no" /
"لا" / "never mind" leaves the step kindly, and a language switch ("English", "عربي") re-renders the step in the
new language and keeps it. Anything else is left to the other handlers, and the step stays resumable
(bot/dialog/state.py)."""
from __future__ import annotations

from dataclasses import replace

from bot.dialog import account
from bot.dialog.context import Reply, TurnContext
from bot.dialog.journeys import booking, browse, menu, tickets
from bot.dialog.journeys.common import number_text, say, step
from bot.dialog.state import unstamped
from bot.nlu.normalize import normalize
from models import Event, Registration

LEAVE_WORDS = frozenset(normalize(w) for w in (
    "no", "nope", "no thanks", "no thank you", "never mind", "nevermind", "forget it", "not now", "cancel", "exit",
    "quit", "لا", "لاء", "لا شكرا", "لا شكراً", "لا خلاص", "خلاص", "الغاء", "الغي", "انسى", "انسى الموضوع",
    "ما ابغى", "مابي", "ما ابي", "مو لازم", "بعدين", "la", "la2", "5alas", "khalas",
))
MENU_SIZE = 5


def recover(ctx: TurnContext, state: dict) -> Reply | None:
    """What to say when the step's own answer did not fit (None: another handler answers, the step stays)."""
    words = normalize(ctx.text)
    if words in LEAVE_WORDS:
        return step(ctx, say(ctx, "step_left"), "step_left")
    if account.asks_for_a_language(ctx):
        return rerendered(ctx, state)
    if words.isdigit():
        count = options(ctx, state)
        if count:
            first = state.get("offset", 0) + 1 if state["kind"] == "events" else 1  # a page's own numbers
            text = say(ctx, "step_out_of_range", first=number_text(ctx, first),
                       last=number_text(ctx, first + count - 1))
            return step(ctx, text, "out_of_range", unstamped(state))
    return None


def options(ctx: TurnContext, state: dict) -> int | None:
    """How many numbered answers the step takes (None for a yes/no question)."""
    kind = state["kind"]
    if kind in ("events", "tickets", "pick_event", "pick_facts"):
        return len(state["ids"])
    if kind == "faq_topics":
        return len(state["keys"])
    if kind == "seats":
        event = ctx.session.get(Event, state["event_id"])
        return min(ctx.settings.max_seats_per_ticket, max(event.seats_left, 1)) if event else None
    return {"menu": MENU_SIZE, "event": 3, "ticket": 2}.get(kind)


def rerendered(ctx: TurnContext, state: dict) -> Reply:
    """The language switch, and the step again in the new language."""
    target = account.target_language(ctx)
    switched = account.set_language(ctx, target, "language", 1.0)
    again = render(replace(ctx, language=target), state)
    if again is None:
        return switched
    return replace(again, text=f"{switched.text}\n\n{again.text}", route="intent", route_key="language",
                   confidence=1.0)


def render(ctx: TurnContext, state: dict) -> Reply | None:
    """The step's question as it was asked, in `ctx.language`."""
    kind, session = state["kind"], ctx.session
    event = session.get(Event, state["event_id"]) if "event_id" in state else None
    if kind == "menu":
        return menu.show_menu(ctx)
    if kind == "events":
        return browse.show_events(ctx, state.get("offset", 0))
    if kind == "tickets" and state.get("purpose") != "cancel":
        return tickets.show_tickets(ctx)
    if kind == "event" and event is not None:
        return browse.show_event(ctx, event, state.get("offset", 0))
    if kind == "seats" and event is not None:
        return booking.ask_seats_or_confirm(ctx, event, None, state.get("source", "menu"))
    if kind == "confirm_register" and event is not None:
        return booking.confirm_registration_reply(ctx, event, state["seats"], state.get("source", "menu"))
    if kind == "confirm_cancel":
        ticket = session.get(Registration, state["registration_id"])
        return tickets.confirm_cancel_reply(ctx, ticket, session.get(Event, ticket.event_id)) if ticket else None
    return None
