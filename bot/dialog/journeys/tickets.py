"""The user's tickets: the list, one ticket, and cancelling it with a confirm step."""
from __future__ import annotations

from dataclasses import replace

from bot.dialog.context import Reply, TurnContext
from bot.dialog.journeys import browse
from bot.dialog.journeys.common import (
    CANCEL_WORDS,
    LOCATION_WORDS,
    code_text,
    say,
    seats_text,
    step,
    ticket_qr,
    unclear,
)
from bot.dialog.words import feedback_value, option_number
from bot.events import service as events
from bot.events import views
from bot.nlu.normalize import normalize
from models import Event, Registration


def show_tickets(ctx: TurnContext, route: str = "dialog", confidence: float | None = None) -> Reply:
    tickets = events.tickets_of(ctx.session, ctx.user.id)
    if not tickets:
        return step(ctx, say(ctx, "tickets_none"), "tickets_none", route=route, confidence=confidence)
    lines = "\n".join(views.ticket_line(i, t, e, ctx.language) for i, (t, e) in enumerate(tickets, start=1))
    return step(ctx, say(ctx, "tickets_list", lines=lines), "tickets",
                {"kind": "tickets", "ids": [t.id for t, _ in tickets]}, route=route, confidence=confidence)


def tickets_choice(ctx: TurnContext, state: dict) -> Reply | None:
    number = option_number(ctx.text, len(state["ids"]))
    if number is None:
        return None
    ticket = ctx.session.get(Registration, state["ids"][number - 1])
    if ticket is None or ticket.user_id != ctx.user.id:
        return None
    if state.get("purpose") == "cancel":
        return confirm_cancel_reply(ctx, ticket, ctx.session.get(Event, ticket.event_id))
    event = ctx.session.get(Event, ticket.event_id)
    return step(ctx, views.ticket_details(ticket, event, ctx.language), "ticket_details",
                {"kind": "ticket", "registration_id": ticket.id}, send=ticket_qr(ctx, ticket))


def ticket_choice(ctx: TurnContext, state: dict) -> Reply | None:
    ticket = ctx.session.get(Registration, state["registration_id"])
    if ticket is None or ticket.user_id != ctx.user.id:
        return None
    event = ctx.session.get(Event, ticket.event_id)
    words = normalize(ctx.text)
    number = option_number(ctx.text, 2)
    if number == 1 or words in CANCEL_WORDS:
        return confirm_cancel_reply(ctx, ticket, event)
    if number == 2 or words in LOCATION_WORDS:
        return browse.send_location(ctx, event, {"kind": "ticket", "registration_id": ticket.id})
    return None


def confirm_cancel_reply(ctx: TurnContext, registration: Registration, event: Event) -> Reply:
    """The question "cancel ticket X?" (nothing changes until the user says yes), or why it cannot be.
    Menus, free text and the LLM's `cancel_ticket` tool all end here."""
    if registration.user_id != ctx.user.id or registration.status != "registered":
        return step(ctx, say(ctx, "ticket_not_cancellable"), "ticket_not_cancellable")
    text = say(ctx, "confirm_cancel", code=code_text(ctx, registration), title=event.title(ctx.language),
               seats=seats_text(ctx, registration.seats))
    return step(ctx, text, "confirm_cancel", {"kind": "confirm_cancel", "registration_id": registration.id},
                action_taken="cancellation_requested")


def confirm_cancel_answer(ctx: TurnContext, state: dict) -> Reply | None:
    answer = feedback_value(ctx.text)
    if answer is None:
        return unclear(ctx, state)
    ticket = ctx.session.get(Registration, state["registration_id"])
    if ticket is None:
        return None
    event = ctx.session.get(Event, ticket.event_id)
    title = event.title(ctx.language)
    if answer < 0:
        return step(ctx, say(ctx, "ticket_kept", code=code_text(ctx, ticket), title=title), "ticket_kept",
                    action_taken="cancellation_declined")
    booking = events.cancel(ctx.session, ctx.user.id, ticket.id)
    if booking.status != "cancelled":
        return step(ctx, say(ctx, "ticket_not_cancellable"), "ticket_not_cancellable")
    return step(ctx, say(ctx, "ticket_cancelled", code=code_text(ctx, ticket), title=title), "ticket_cancelled",
                action_taken="ticket_cancelled", meta={"ticket_code": ticket.ticket_code})


def start_cancel(ctx: TurnContext, confidence: float) -> Reply:
    """"Cancel my workshop ticket": the ticket by event name, or a choice among the user's tickets."""
    tickets = events.tickets_of(ctx.session, ctx.user.id)
    if not tickets:
        return step(ctx, say(ctx, "tickets_none"), "tickets_none", route="intent", confidence=confidence)
    named = events.find_events(ctx.session, ctx.text)
    named_ids = {e.id for e in named}
    chosen = [(t, e) for t, e in tickets if e.id in named_ids]
    if named and not chosen:
        return step(ctx, say(ctx, "no_ticket_for_event", title=named[0].title(ctx.language)), "no_ticket_for_event",
                    route="intent", confidence=confidence)
    # the only ticket is offered only when the text names no other event
    if len(chosen) == 1 or (len(tickets) == 1 and not named_ids):
        ticket, event = chosen[0] if len(chosen) == 1 else tickets[0]
        return replace(confirm_cancel_reply(ctx, ticket, event), route="intent", confidence=confidence)
    lines = "\n".join(views.ticket_line(i, t, e, ctx.language) for i, (t, e) in enumerate(tickets, start=1))
    return step(ctx, say(ctx, "which_ticket_to_cancel", lines=lines), "which_ticket",
                {"kind": "tickets", "ids": [t.id for t, _ in tickets], "purpose": "cancel"}, route="intent",
                confidence=confidence)
