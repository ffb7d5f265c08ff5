"""Buttons and list rows, routed by their payload rather than their words: a template's quick reply
(`ButtonPayload`) or an interactive list's row (`ListId`).

The bot's payloads are `menu`, `events`, `tickets`, `agent`, `event:CODE`, `register:CODE` (or `book:CODE`),
`pin:CODE`, `cancel:TICKET` and `coming:TICKET` (a reminder's "I'm coming"); templates and lists built for the
bot use them (README, "Buttons and lists"). An unknown payload is left to the button's text, which Twilio also
sends as the message body.
"""
from __future__ import annotations

from dataclasses import replace

from bot.dialog import account
from bot.dialog.context import Reply, TurnContext
from bot.dialog.journeys import booking, browse, menu, tickets
from bot.dialog.journeys.common import code_text, say, step
from bot.events import service as events
from models import Event

ROUTE = "button"


def payload_of(ctx: TurnContext) -> str | None:
    meta = ctx.message.meta or {}
    value = (meta.get("ButtonPayload") or meta.get("ListId") or "").strip()
    return value or None


class PayloadHandler:
    def match(self, ctx: TurnContext) -> bool:
        payload = payload_of(ctx)
        self._reply = answer(ctx, payload) if payload else None  # one handler per turn: this turn's answer
        return self._reply is not None

    def handle(self, ctx: TurnContext) -> Reply:
        return self._reply


def answer(ctx: TurnContext, payload: str) -> Reply | None:
    verb, _, argument = payload.partition(":")
    verb, argument = verb.strip().lower(), argument.strip()
    simple = {"menu": lambda: menu.show_menu(ctx), "events": lambda: browse.show_events(ctx),
              "tickets": lambda: tickets.show_tickets(ctx), "my_tickets": lambda: tickets.show_tickets(ctx),
              "agent": lambda: account.request_human(ctx, ctx.knowledge.intents["human"], 1.0)}
    if verb in simple and not argument:
        reply = simple[verb]()
    elif verb in ("event", "register", "book", "pin"):
        reply = _about_event(ctx, verb, argument)
    elif verb in ("cancel", "coming"):
        reply = _about_ticket(ctx, verb, argument)
    else:
        return None
    return None if reply is None else _as_button(reply, verb)


def _about_event(ctx: TurnContext, verb: str, code: str) -> Reply | None:
    event = events.event_by_code(ctx.session, code) if code else None
    if event is None or event.status == "draft":
        return None
    if verb == "event":
        return browse.show_event(ctx, event)
    if verb == "pin":
        return browse.send_location(ctx, event, {"kind": "event", "event_id": event.id, "offset": 0})
    return booking.ask_seats_or_confirm(ctx, event, None, "button")


def _about_ticket(ctx: TurnContext, verb: str, code: str) -> Reply | None:
    ticket = events.ticket_by_code(ctx.session, ctx.user.id, code) if code else None
    if ticket is None:  # not this user's ticket: nothing is revealed
        return None
    event = ctx.session.get(Event, ticket.event_id)
    if verb == "cancel":
        return tickets.confirm_cancel_reply(ctx, ticket, event)
    return step(ctx, say(ctx, "coming_confirmed", title=event.title(ctx.language), code=code_text(ctx, ticket)),
                "coming_confirmed", subject=event.id)


def _as_button(reply: Reply, verb: str) -> Reply:
    return replace(reply, route=ROUTE, route_key=f"{verb}:{reply.route_key}"[:100])
