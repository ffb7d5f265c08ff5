"""The journeys' handlers: the menu from any step, the answer to the step the conversation is in, and a
booking or cancelling request that names one event."""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from bot.dialog.context import Reply, TurnContext
from bot.dialog.journeys import booking, browse, menu, recovery, tickets
from bot.dialog.journeys.common import BOOKING_STEMS, CANCEL_STEMS, is_booking, is_cancelling
from bot.events import service as events
from bot.nlu.normalize import normalize
from models import Event

STEPS: dict[str, Callable[[TurnContext, dict], Reply | None]] = {
    "menu": menu.menu_choice, "faq_topics": menu.faq_topic_choice,
    "events": browse.events_choice, "event": browse.event_choice,
    "seats": booking.seats_answer, "confirm_register": booking.confirm_register_answer,
    "pick_event": booking.pick_event_choice,
    "tickets": tickets.tickets_choice, "ticket": tickets.ticket_choice, "confirm_cancel": tickets.confirm_cancel_answer,
}


class MenuHandler:
    """"menu" / "القائمة" (the help intent's patterns) always show the menu, whatever step the user is in."""

    def match(self, ctx: TurnContext) -> bool:
        help_intent = ctx.knowledge.intents.get("help")
        return help_intent is not None and help_intent.matches_pattern(normalize(ctx.text))

    def handle(self, ctx: TurnContext) -> Reply:
        return replace(menu.show_menu(ctx, route="intent", confidence=1.0), route_key="help")


class NamedEventHandler:
    """"Book 4 seats for the photography workshop", "ابغى تذكرتين لجولة التصوير", "cancel my oud night ticket":
    a request to book or cancel that names exactly one event starts that journey, whatever FAQ entry or
    clarifying question its other words lean to — the journey's own confirm step guards it."""

    def match(self, ctx: TurnContext) -> bool:
        # The reply is built here, once: deciding needs the same queries that answering does. The router
        # makes new handlers for every turn, so this holds one turn's answer.
        self._reply = self._answer(ctx)
        return self._reply is not None

    def handle(self, ctx: TurnContext) -> Reply:
        return self._reply

    def _answer(self, ctx: TurnContext) -> Reply | None:
        command = self._command(ctx)
        if command is not None:
            return replace(command, route="intent", confidence=1.0)
        journey = self._journey(ctx)
        if journey is None:
            return None
        key, start = journey
        # recognised by rule (a booking or cancelling verb and one event's name), like an intent's pattern
        return replace(start(ctx, 1.0), route="intent", route_key=key, confidence=1.0)

    @staticmethod
    def _command(ctx: TurnContext) -> Reply | None:
        """"REGISTER 2" (the second upcoming event) and "CANCEL AB12CD" (a ticket code), as the FAQ tells
        attendees to write them; also "تسجيل ٢" and "الغاء AB12CD"."""
        words = normalize(ctx.text).split()
        if len(words) != 2:
            return None
        verb, argument = words
        if verb.startswith(CANCEL_STEMS):
            ticket = events.ticket_by_code(ctx.session, ctx.user.id, argument)
            if ticket is None:
                return None
            return replace(tickets.confirm_cancel_reply(ctx, ticket, ctx.session.get(Event, ticket.event_id)),
                           route_key="cancel_ticket")
        if verb.startswith(BOOKING_STEMS) and argument.isdigit() and int(argument) >= 1:
            listed = events.upcoming(ctx.session, limit=1, offset=int(argument) - 1)
            if not listed:
                return None
            return replace(booking.ask_seats_or_confirm(ctx, listed[0], None, "text"), route_key="register_event")
        return None

    @staticmethod
    def _journey(ctx: TurnContext):
        if is_cancelling(ctx.text):
            key, start = "cancel_ticket", tickets.start_cancel
        elif is_booking(ctx.text):
            key, start = "register_event", booking.start_registration
        else:
            return None
        if len(events.find_events(ctx.session, ctx.text)) != 1:
            return None
        return key, start


class JourneyDialogHandler:
    """The answer to the step the conversation is in (a number, yes/no, "more", an event's name), or to the step a
    question interrupted; when the answer does not fit, the step recovers (bot/dialog/journeys/recovery.py)."""

    def match(self, ctx: TurnContext) -> bool:
        return self._step(ctx) is not None

    def handle(self, ctx: TurnContext) -> Reply | None:
        state = self._step(ctx)
        return STEPS[state["kind"]](ctx, state) or recovery.recover(ctx, state)

    @staticmethod
    def _step(ctx: TurnContext) -> dict | None:
        for state in (ctx.awaiting, ctx.resume):
            if state and state.get("kind") in STEPS:
                return state
        return None
