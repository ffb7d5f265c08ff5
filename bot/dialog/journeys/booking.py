"""Booking seats: how many, the confirm step, and the booking itself (through `bot.events.service`: the same
checks whichever way the user asked — menus, free text or the LLM's request)."""
from __future__ import annotations

from bot.dialog.context import Reply, TurnContext
from bot.dialog.journeys.common import (
    DUALS,
    NUMBER_WORDS,
    code_text,
    number_text,
    parse_seats,
    say,
    seats_text,
    step,
    ticket_qr,
    unclear,
    when_text,
)
from bot.dialog.words import feedback_value, option_number
from bot.events import service as events
from bot.events import views
from bot.nlu.normalize import normalize
from models import Event
from models.base import utcnow


def ask_seats_or_confirm(ctx: TurnContext, event: Event, seats: int | None, source: str) -> Reply:
    if seats is None and ctx.settings.max_seats_per_ticket == 1:
        seats = 1
    if seats is None:
        blocked = refusal(ctx, event, 1, source)
        if blocked is not None:
            return blocked
        most = min(ctx.settings.max_seats_per_ticket, event.seats_left)
        return step(ctx, say(ctx, "ask_seats", title=event.title(ctx.language), max=number_text(ctx, most)),
                    "ask_seats", {"kind": "seats", "event_id": event.id, "source": source})
    return confirm_registration_reply(ctx, event, seats, source)


def seats_answer(ctx: TurnContext, state: dict) -> Reply | None:
    words = normalize(ctx.text)
    seats = int(words) if words.isdigit() else NUMBER_WORDS.get(words) or parse_seats(ctx.text)
    if seats is None and words in DUALS:
        seats = 2
    event = ctx.session.get(Event, state["event_id"])
    if seats is None or event is None:
        return None
    return confirm_registration_reply(ctx, event, seats, state.get("source", "menu"))


def refusal(ctx: TurnContext, event: Event, seats: int, source: str = "menu") -> Reply | None:
    """Why `seats` of `event` cannot be booked now (the same checks `events.register` makes), or None."""
    title = event.title(ctx.language)
    existing = events.active_ticket(ctx.session, ctx.user.id, event.id)
    if existing is not None:
        return step(ctx, say(ctx, "register_duplicate", title=title, code=code_text(ctx, existing),
                             seats=seats_text(ctx, existing.seats)), "register_duplicate")
    if event.status != "published" or event.starts_at <= utcnow():
        return step(ctx, say(ctx, "register_closed", title=title), "register_closed")
    if event.seats_left <= 0:
        return step(ctx, say(ctx, "register_full", title=title), "register_full")
    if not 1 <= seats <= ctx.settings.max_seats_per_ticket:
        most = number_text(ctx, ctx.settings.max_seats_per_ticket)
        return step(ctx, say(ctx, "register_too_many", max=most), "register_too_many",
                    {"kind": "seats", "event_id": event.id, "source": source})
    if seats > event.seats_left:
        return step(ctx, say(ctx, "register_not_enough", title=title, left=seats_text(ctx, event.seats_left)),
                    "register_not_enough", {"kind": "seats", "event_id": event.id, "source": source})
    return None


def confirm_registration_reply(ctx: TurnContext, event: Event, seats: int, source: str = "llm") -> Reply:
    """The confirmation question for booking `seats` of `event` (nothing is written until the user says yes),
    or the reason it cannot be booked. Menus, free text and the LLM's `register` tool all end here."""
    blocked = refusal(ctx, event, seats, source)
    if blocked is not None:
        return blocked
    text = say(ctx, "confirm_register", title=event.title(ctx.language),
               when=when_text(ctx, event), seats=seats_text(ctx, seats),
               total=views.total_price(event, seats, ctx.language))
    return step(ctx, text, "confirm_register",
                {"kind": "confirm_register", "event_id": event.id, "seats": seats, "source": source},
                action_taken="registration_requested")


def confirm_register_answer(ctx: TurnContext, state: dict) -> Reply | None:
    answer = feedback_value(ctx.text)
    if answer is None:
        return unclear(ctx, state)
    event = ctx.session.get(Event, state["event_id"])
    if answer < 0 or event is None:
        return step(ctx, say(ctx, "register_declined"), "register_declined", action_taken="registration_declined")
    booking = events.register(ctx.session, ctx.user.id, event.id, state["seats"], ctx.settings.max_seats_per_ticket,
                              source=state.get("source", "menu"))
    if booking.status != "created":
        refused = refusal(ctx, event, state["seats"], state.get("source", "menu"))
        return refused or step(ctx, say(ctx, "register_closed", title=event.title(ctx.language)), "register_closed")
    ticket = booking.registration
    payment = (say(ctx, "registered_payment", total=views.total_price(event, ticket.seats, ctx.language))
               if event.price_yer else "")
    text = say(ctx, "registered", title=event.title(ctx.language), seats=seats_text(ctx, ticket.seats),
               when=when_text(ctx, event), code=code_text(ctx, ticket), payment=payment)
    return step(ctx, text, "registered", {"kind": "event", "event_id": event.id, "offset": 0},
                action_taken="registration_created", meta={"ticket_code": ticket.ticket_code},
                send=ticket_qr(ctx, ticket))


def start_registration(ctx: TurnContext, confidence: float) -> Reply:
    """"Book me two seats for the jazz night": the event by name, the seats by number; asks for what's missing."""
    named = events.find_events(ctx.session, ctx.text)
    seats = parse_seats(ctx.text)
    if len(named) == 1:
        return ask_seats_or_confirm(ctx, named[0], seats, "text")
    choices = named or events.upcoming(ctx.session, limit=ctx.settings.events_page_size)
    if not choices:
        return step(ctx, say(ctx, "events_none"), "events_none", route="intent", confidence=confidence)
    lines = "\n".join(views.event_line(i, e, ctx.language) for i, e in enumerate(choices, start=1))
    return step(ctx, say(ctx, "which_event", lines=lines), "which_event",
                {"kind": "pick_event", "ids": [e.id for e in choices], "seats": seats}, route="intent",
                confidence=confidence)


def pick_event_choice(ctx: TurnContext, state: dict) -> Reply | None:
    number = option_number(ctx.text, len(state["ids"]))
    event = ctx.session.get(Event, state["ids"][number - 1]) if number else None
    if event is None:
        named = [e for e in events.find_events(ctx.session, ctx.text) if e.id in state["ids"]]
        event = named[0] if len(named) == 1 else None
    if event is None:
        return None
    return ask_seats_or_confirm(ctx, event, state.get("seats"), "text")
