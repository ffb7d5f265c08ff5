"""Attendee journeys: the menu, upcoming events, details and location pins, registering with a confirm step,
my tickets and cancelling one — by numbered menus and by free text, in Arabic and English.

Dialog state is the conversation's `context["awaiting"]`, stored in the database with the reply, so it
survives restarts and is seen by every worker; it expires after DIALOG_IDLE_MINUTES, and "menu" /
"القائمة" always leads out of it (MenuHandler runs before any pending step). A reply that leaves no
`awaiting` ends the dialog, so a user who asks something else simply gets an answer to that.

Every write goes through bot/events.py: the same checks whichever way the user asked.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Callable

from bot import actions, catalog, event_views, events, localize
from bot.handlers.dialog import feedback_value, option_number
from bot.handlers.understanding import answer_faq
from bot.nlu.normalize import normalize
from bot.router import Reply, TurnContext
from models import Event, Registration
from models.base import utcnow

log = logging.getLogger(__name__)
MORE_WORDS = frozenset(normalize(w) for w in ("more", "next", "more events", "المزيد", "مزيد", "التالي", "بعد",
                                              "كمان", "زياده", "غيرها"))
REGISTER_WORDS = frozenset(normalize(w) for w in ("register", "book", "book it", "sign me up", "reserve", "سجل",
                                                  "سجلني", "احجز", "احجز لي", "تسجيل", "حجز"))
LOCATION_WORDS = frozenset(normalize(w) for w in ("location", "map", "where", "pin", "address", "directions",
                                                  "الموقع", "موقع", "الخريطه", "وين", "فين", "العنوان", "اللوكيشن"))
CANCEL_WORDS = frozenset(normalize(w) for w in ("cancel", "cancel it", "cancel ticket", "الغاء", "الغي", "الغيها",
                                                "كنسل"))
BOOKING_STEMS = ("book", "regist", "reserv", "احجز", "سجل", "تسجيل", "نحجز", "حجز")
CANCEL_STEMS = ("cancel", "الغ", "كنسل", "الغاء")
BACK_WORDS = frozenset(normalize(w) for w in ("back", "list", "رجوع", "ارجع", "القائمه السابقه"))
SEAT_NOUNS = ("seat", "seats", "ticket", "tickets", "place", "places", "person", "people", "persons",
              "مقعد", "مقاعد", "تذكره", "تذاكر", "كرسي", "كراسي", "شخص", "اشخاص", "نفر", "انفار")
NUMBER_WORDS = {"one": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "واحد": 1, "وحده": 1, "اثنين": 2, "اثنان": 2, "ثنين": 2,
                "ثلاث": 3, "ثلاثه": 3, "اربع": 4, "اربعه": 4, "خمس": 5, "خمسه": 5, "ست": 6, "سته": 6}
DUALS = ("تذكرتين", "تذكرتان", "مقعدين", "مقعدان", "كرسيين", "شخصين", "نفرين")


def step(ctx: TurnContext, text: str, key: str, awaiting: dict | None = None, **extra) -> Reply:
    """A reply of the journey; `awaiting` (without the timestamp) is the next step's state."""
    state = {**awaiting, "at": utcnow().isoformat()} if awaiting else None
    return Reply(text, extra.pop("route", "dialog"), ctx.language, route_key=key, awaiting=state,
                 confidence=extra.pop("confidence", None), **extra)


def say(ctx: TurnContext, key: str, **values) -> str:
    return catalog.say(key, ctx.language, **values)


def parse_seats(text: str) -> int | None:
    """The number of seats a free-text request names: "2 tickets", "two seats", "تذكرتين", "٣ مقاعد"."""
    words = normalize(text).split()
    for i, word in enumerate(words):
        if word in DUALS:
            return 2
        count = int(word) if word.isdigit() else NUMBER_WORDS.get(word)
        if count is None:
            continue
        # "2 tickets", "ثلاث مقاعد" — and Arabic's noun first: "مقعد واحد", "تذكرة وحدة"
        neighbours = words[i + 1:i + 2] + words[max(i - 1, 0):i]
        if any(_is_seat_noun(w) for w in neighbours):
            return count
    return None


def _is_seat_noun(word: str) -> bool:
    return any(word.startswith(noun) or word.endswith(noun) for noun in SEAT_NOUNS)


def is_cancelling(text: str) -> bool:
    return any(w.startswith(CANCEL_STEMS) for w in normalize(text).split())


def is_booking(text: str) -> bool:
    """A sentence that asks to book ("book 2 seats", "احجز مقعدين"), not just to see an event."""
    words = normalize(text).split()
    return parse_seats(text) is not None or any(w in REGISTER_WORDS or w.startswith(BOOKING_STEMS) for w in words)


# --- The menu ------------------------------------------------------------------------------------------

def show_menu(ctx: TurnContext, route: str = "dialog", confidence: float | None = None) -> Reply:
    return step(ctx, say(ctx, "menu"), "menu", {"kind": "menu"}, route=route, confidence=confidence)


def _menu_choice(ctx: TurnContext, state: dict) -> Reply | None:
    number = option_number(ctx.text, 5)
    if number is None:
        return None
    if number == 1:
        return show_events(ctx)
    if number == 2:
        return show_tickets(ctx)
    if number == 3:
        return show_faq_topics(ctx)
    if number == 4:
        return actions.request_human(ctx, ctx.knowledge.intents["human"], 1.0)
    return actions.set_language(ctx, "ar" if ctx.language == "en" else "en", "language", 1.0)


def show_faq_topics(ctx: TurnContext) -> Reply:
    faqs = list(ctx.knowledge.faqs.values())[:9]
    if not faqs:
        return step(ctx, say(ctx, "faq_topics_none"), "faq_topics")
    options = "\n".join(f"{_number(ctx, i)}) {f.question(ctx.language)}" for i, f in enumerate(faqs, start=1))
    return step(ctx, say(ctx, "faq_topics", options=options), "faq_topics",
                {"kind": "faq_topics", "keys": [f.key for f in faqs]})


def _faq_topic_choice(ctx: TurnContext, state: dict) -> Reply | None:
    number = option_number(ctx.text, len(state["keys"]))
    if number is None or state["keys"][number - 1] not in ctx.knowledge.faqs:
        return None
    return answer_faq(ctx, state["keys"][number - 1], 1.0)


# --- Upcoming events -----------------------------------------------------------------------------------

def show_events(ctx: TurnContext, offset: int = 0, route: str = "dialog", confidence: float | None = None) -> Reply:
    size = ctx.settings.events_page_size
    total = events.count_upcoming(ctx.session)
    if total == 0:
        return step(ctx, say(ctx, "events_none"), "events_none", route=route, confidence=confidence)
    if offset >= total:
        return step(ctx, say(ctx, "events_no_more"), "events_no_more", None)
    page = events.upcoming(ctx.session, limit=size, offset=offset)
    lines = "\n".join(event_views.event_line(i, e, ctx.language) for i, e in enumerate(page, start=1))
    more = say(ctx, "events_more_hint") if offset + len(page) < total else ""
    text = say(ctx, "events_list", first=localize.number(offset + 1, ctx.language),
               last=localize.number(offset + len(page), ctx.language), total=localize.number(total, ctx.language),
               lines=lines, more=more)
    return step(ctx, text, "events", {"kind": "events", "ids": [e.id for e in page], "offset": offset},
                route=route, confidence=confidence)


def show_named_or_upcoming(ctx: TurnContext, confidence: float) -> Reply:
    """"When does the family day start?" names one event: its details; otherwise the list."""
    named = events.find_events(ctx.session, ctx.text)
    if len(named) == 1:
        return replace(show_event(ctx, named[0]), route="intent", confidence=confidence)
    return show_events(ctx, 0, "intent", confidence)


def _events_choice(ctx: TurnContext, state: dict) -> Reply | None:
    words = normalize(ctx.text)
    if words in MORE_WORDS:
        following = state["offset"] + len(state["ids"])
        if following >= events.count_upcoming(ctx.session):  # the list shown stays answerable
            return step(ctx, say(ctx, "events_no_more"), "events_no_more", _without_time(state))
        return show_events(ctx, following)
    number = option_number(ctx.text, len(state["ids"]))
    if number is not None:
        event = ctx.session.get(Event, state["ids"][number - 1])
        return show_event(ctx, event, state["offset"]) if event else None
    named = events.find_events(ctx.session, ctx.text)
    if len(named) == 1:
        if is_booking(ctx.text):
            return ask_seats_or_confirm(ctx, named[0], parse_seats(ctx.text), "text")
        return show_event(ctx, named[0], state["offset"])
    return None


def show_event(ctx: TurnContext, event: Event, offset: int = 0) -> Reply:
    return step(ctx, event_views.event_details(event, ctx.language), "event_details",
                {"kind": "event", "event_id": event.id, "offset": offset}, meta={"event_code": event.code})


def _event_choice(ctx: TurnContext, state: dict) -> Reply | None:
    event = ctx.session.get(Event, state["event_id"])
    if event is None:
        return None
    words = normalize(ctx.text)
    number = option_number(ctx.text, 3)
    if number == 1 or words in REGISTER_WORDS:
        return ask_seats_or_confirm(ctx, event, None, "menu")
    if is_booking(ctx.text):  # "book 2 seats" books the event shown, unless the text names another one
        named = events.find_events(ctx.session, ctx.text)
        return ask_seats_or_confirm(ctx, named[0] if len(named) == 1 else event, parse_seats(ctx.text), "text")
    if number == 2 or words in LOCATION_WORDS:
        return send_location(ctx, event, {"kind": "event", "event_id": event.id, "offset": state.get("offset", 0)})
    if number == 3 or words in BACK_WORDS:
        return show_events(ctx, state.get("offset", 0))
    return None


def send_location(ctx: TurnContext, event: Event, then: dict | None) -> Reply:
    if event.latitude is None or event.longitude is None:
        return step(ctx, say(ctx, "location_unknown", title=event.title(ctx.language)), "location_unknown", then)
    body, send = event_views.location_pin(event, ctx.language)
    return step(ctx, body, "location_pin", then, send=send)


# --- Registering -------------------------------------------------------------------------------------

def ask_seats_or_confirm(ctx: TurnContext, event: Event, seats: int | None, source: str) -> Reply:
    if seats is None and ctx.settings.max_seats_per_ticket == 1:
        seats = 1
    if seats is None:
        blocked = _refusal(ctx, event, 1, source)
        if blocked is not None:
            return blocked
        most = min(ctx.settings.max_seats_per_ticket, event.seats_left)
        return step(ctx, say(ctx, "ask_seats", title=event.title(ctx.language), max=_number(ctx, most)),
                    "ask_seats", {"kind": "seats", "event_id": event.id, "source": source})
    return confirm_registration_reply(ctx, event, seats, source)


def _seats_answer(ctx: TurnContext, state: dict) -> Reply | None:
    words = normalize(ctx.text)
    seats = int(words) if words.isdigit() else NUMBER_WORDS.get(words) or parse_seats(ctx.text)
    if seats is None and words in DUALS:
        seats = 2
    event = ctx.session.get(Event, state["event_id"])
    if seats is None or event is None:
        return None
    return confirm_registration_reply(ctx, event, seats, state.get("source", "menu"))


def _refusal(ctx: TurnContext, event: Event, seats: int, source: str = "menu") -> Reply | None:
    """Why `seats` of `event` cannot be booked now (the same checks `events.register` makes), or None."""
    title = event.title(ctx.language)
    existing = events.active_ticket(ctx.session, ctx.user.id, event.id)
    if existing is not None:
        return step(ctx, say(ctx, "register_duplicate", title=title, code=_code(ctx, existing),
                             seats=_seats(ctx, existing.seats)), "register_duplicate")
    if event.status != "published" or event.starts_at <= utcnow():
        return step(ctx, say(ctx, "register_closed", title=title), "register_closed")
    if event.seats_left <= 0:
        return step(ctx, say(ctx, "register_full", title=title), "register_full")
    if not 1 <= seats <= ctx.settings.max_seats_per_ticket:
        return step(ctx, say(ctx, "register_too_many", max=_number(ctx, ctx.settings.max_seats_per_ticket)), "register_too_many",
                    {"kind": "seats", "event_id": event.id, "source": source})
    if seats > event.seats_left:
        return step(ctx, say(ctx, "register_not_enough", title=title, left=_seats(ctx, event.seats_left)),
                    "register_not_enough", {"kind": "seats", "event_id": event.id, "source": source})
    return None


def confirm_registration_reply(ctx: TurnContext, event: Event, seats: int, source: str = "llm") -> Reply:
    """The confirmation question for booking `seats` of `event` (nothing is written until the user says yes),
    or the reason it cannot be booked. Menus, free text and the LLM's `register` tool all end here."""
    blocked = _refusal(ctx, event, seats, source)
    if blocked is not None:
        return blocked
    text = say(ctx, "confirm_register", title=event.title(ctx.language),
               when=_when(ctx, event), seats=_seats(ctx, seats),
               total=event_views.total_price(event, seats, ctx.language))
    return step(ctx, text, "confirm_register",
                {"kind": "confirm_register", "event_id": event.id, "seats": seats, "source": source},
                action_taken="registration_requested")


def _confirm_register_answer(ctx: TurnContext, state: dict) -> Reply | None:
    answer = feedback_value(ctx.text)
    if answer is None:
        return _unclear(ctx, state)
    event = ctx.session.get(Event, state["event_id"])
    if answer < 0 or event is None:
        return step(ctx, say(ctx, "register_declined"), "register_declined", action_taken="registration_declined")
    booking = events.register(ctx.session, ctx.user.id, event.id, state["seats"], ctx.settings.max_seats_per_ticket,
                              source=state.get("source", "menu"))
    if booking.status != "created":
        return _refusal(ctx, event, state["seats"], state.get("source", "menu")) or step(ctx, say(ctx, "register_closed", title=event.title(ctx.language)),
                                                             "register_closed")
    ticket = booking.registration
    payment = (say(ctx, "registered_payment", total=event_views.total_price(event, ticket.seats, ctx.language))
               if event.price_yer else "")
    text = say(ctx, "registered", title=event.title(ctx.language), seats=_seats(ctx, ticket.seats),
               when=_when(ctx, event), code=_code(ctx, ticket), payment=payment)
    return step(ctx, text, "registered", {"kind": "event", "event_id": event.id, "offset": 0},
                action_taken="registration_created", meta={"ticket_code": ticket.ticket_code})


def _unclear(ctx: TurnContext, state: dict) -> Reply | None:
    """A short reply that is neither yes nor no gets the question again; a longer one is a new question."""
    if len(normalize(ctx.text).split()) > 3:
        return None
    return step(ctx, say(ctx, "confirm_unclear"), "confirm_unclear", _without_time(state))


def _without_time(state: dict) -> dict:
    return {k: v for k, v in state.items() if k != "at"}


# --- Tickets -----------------------------------------------------------------------------------------

def show_tickets(ctx: TurnContext, route: str = "dialog", confidence: float | None = None) -> Reply:
    tickets = events.tickets_of(ctx.session, ctx.user.id)
    if not tickets:
        return step(ctx, say(ctx, "tickets_none"), "tickets_none", route=route, confidence=confidence)
    lines = "\n".join(event_views.ticket_line(i, t, e, ctx.language) for i, (t, e) in enumerate(tickets, start=1))
    return step(ctx, say(ctx, "tickets_list", lines=lines), "tickets",
                {"kind": "tickets", "ids": [t.id for t, _ in tickets]}, route=route, confidence=confidence)


def _tickets_choice(ctx: TurnContext, state: dict) -> Reply | None:
    number = option_number(ctx.text, len(state["ids"]))
    if number is None:
        return None
    ticket = ctx.session.get(Registration, state["ids"][number - 1])
    if ticket is None or ticket.user_id != ctx.user.id:
        return None
    if state.get("purpose") == "cancel":
        return confirm_cancel_reply(ctx, ticket, ctx.session.get(Event, ticket.event_id))
    event = ctx.session.get(Event, ticket.event_id)
    return step(ctx, event_views.ticket_details(ticket, event, ctx.language), "ticket_details",
                {"kind": "ticket", "registration_id": ticket.id})


def _ticket_choice(ctx: TurnContext, state: dict) -> Reply | None:
    ticket = ctx.session.get(Registration, state["registration_id"])
    if ticket is None or ticket.user_id != ctx.user.id:
        return None
    event = ctx.session.get(Event, ticket.event_id)
    words = normalize(ctx.text)
    number = option_number(ctx.text, 2)
    if number == 1 or words in CANCEL_WORDS:
        return confirm_cancel_reply(ctx, ticket, event)
    if number == 2 or words in LOCATION_WORDS:
        return send_location(ctx, event, {"kind": "ticket", "registration_id": ticket.id})
    return None


def confirm_cancel_reply(ctx: TurnContext, registration: Registration, event: Event) -> Reply:
    """The question "cancel ticket X?" (nothing changes until the user says yes), or why it cannot be.
    Menus, free text and the LLM's `cancel_ticket` tool all end here."""
    if registration.user_id != ctx.user.id or registration.status != "registered":
        return step(ctx, say(ctx, "ticket_not_cancellable"), "ticket_not_cancellable")
    text = say(ctx, "confirm_cancel", code=_code(ctx, registration), title=event.title(ctx.language),
               seats=_seats(ctx, registration.seats))
    return step(ctx, text, "confirm_cancel", {"kind": "confirm_cancel", "registration_id": registration.id},
                action_taken="cancellation_requested")


def _confirm_cancel_answer(ctx: TurnContext, state: dict) -> Reply | None:
    answer = feedback_value(ctx.text)
    if answer is None:
        return _unclear(ctx, state)
    ticket = ctx.session.get(Registration, state["registration_id"])
    if ticket is None:
        return None
    event = ctx.session.get(Event, ticket.event_id)
    title = event.title(ctx.language)
    if answer < 0:
        return step(ctx, say(ctx, "ticket_kept", code=_code(ctx, ticket), title=title), "ticket_kept",
                    action_taken="cancellation_declined")
    booking = events.cancel(ctx.session, ctx.user.id, ticket.id)
    if booking.status != "cancelled":
        return step(ctx, say(ctx, "ticket_not_cancellable"), "ticket_not_cancellable")
    return step(ctx, say(ctx, "ticket_cancelled", code=_code(ctx, ticket), title=title), "ticket_cancelled",
                action_taken="ticket_cancelled", meta={"ticket_code": ticket.ticket_code})


# --- Free text (intents name these as actions) ---------------------------------------------------------

def start_registration(ctx: TurnContext, confidence: float) -> Reply:
    """"Book me two seats for the jazz night": the event by name, the seats by number; asks for what's missing."""
    named = events.find_events(ctx.session, ctx.text)
    seats = parse_seats(ctx.text)
    if len(named) == 1:
        return ask_seats_or_confirm(ctx, named[0], seats, "text")
    choices = named or events.upcoming(ctx.session, limit=ctx.settings.events_page_size)
    if not choices:
        return step(ctx, say(ctx, "events_none"), "events_none", route="intent", confidence=confidence)
    lines = "\n".join(event_views.event_line(i, e, ctx.language) for i, e in enumerate(choices, start=1))
    return step(ctx, say(ctx, "which_event", lines=lines), "which_event",
                {"kind": "pick_event", "ids": [e.id for e in choices], "seats": seats}, route="intent",
                confidence=confidence)


def _pick_event_choice(ctx: TurnContext, state: dict) -> Reply | None:
    number = option_number(ctx.text, len(state["ids"]))
    event = ctx.session.get(Event, state["ids"][number - 1]) if number else None
    if event is None:
        named = [e for e in events.find_events(ctx.session, ctx.text) if e.id in state["ids"]]
        event = named[0] if len(named) == 1 else None
    if event is None:
        return None
    return ask_seats_or_confirm(ctx, event, state.get("seats"), "text")


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
    lines = "\n".join(event_views.ticket_line(i, t, e, ctx.language) for i, (t, e) in enumerate(tickets, start=1))
    return step(ctx, say(ctx, "which_ticket_to_cancel", lines=lines), "which_ticket",
                {"kind": "tickets", "ids": [t.id for t, _ in tickets], "purpose": "cancel"}, route="intent",
                confidence=confidence)


# --- Helpers and the handler ----------------------------------------------------------------------------

def _when(ctx: TurnContext, event: Event) -> str:
    return localize.when(event.starts_at, ctx.language, event.timezone)


def _number(ctx: TurnContext, n: int) -> str:
    return localize.number(n, ctx.language)


def _seats(ctx: TurnContext, n: int) -> str:
    return localize.seats(n, ctx.language)


def _code(ctx: TurnContext, ticket: Registration) -> str:
    return localize.code(ticket.ticket_code, ctx.language)


STEPS: dict[str, Callable[[TurnContext, dict], Reply | None]] = {
    "menu": _menu_choice, "faq_topics": _faq_topic_choice, "events": _events_choice, "event": _event_choice,
    "seats": _seats_answer, "confirm_register": _confirm_register_answer, "pick_event": _pick_event_choice,
    "tickets": _tickets_choice, "ticket": _ticket_choice, "confirm_cancel": _confirm_cancel_answer,
}


class MenuHandler:
    """"menu" / "القائمة" (the help intent's patterns) always show the menu, whatever step the user is in."""

    def match(self, ctx: TurnContext) -> bool:
        help_intent = ctx.knowledge.intents.get("help")
        return help_intent is not None and help_intent.matches_pattern(normalize(ctx.text))

    def handle(self, ctx: TurnContext) -> Reply:
        return replace(show_menu(ctx, route="intent", confidence=1.0), route_key="help")


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
            return replace(confirm_cancel_reply(ctx, ticket, ctx.session.get(Event, ticket.event_id)),
                           route_key="cancel_ticket")
        if verb.startswith(BOOKING_STEMS) and argument.isdigit() and int(argument) >= 1:
            listed = events.upcoming(ctx.session, limit=1, offset=int(argument) - 1)
            if not listed:
                return None
            return replace(ask_seats_or_confirm(ctx, listed[0], None, "text"), route_key="register_event")
        return None

    @staticmethod
    def _journey(ctx: TurnContext):
        if is_cancelling(ctx.text):
            key, start = "cancel_ticket", start_cancel
        elif is_booking(ctx.text):
            key, start = "register_event", start_registration
        else:
            return None
        if len(events.find_events(ctx.session, ctx.text)) != 1:
            return None
        return key, start


class JourneyDialogHandler:
    """The answer to the step the conversation is in (a number, yes/no, "more", an event's name)."""

    def match(self, ctx: TurnContext) -> bool:
        awaiting = ctx.awaiting
        return bool(awaiting) and awaiting.get("kind") in STEPS and not expired(ctx, awaiting)

    def handle(self, ctx: TurnContext) -> Reply | None:
        awaiting = ctx.awaiting
        return STEPS[awaiting["kind"]](ctx, awaiting)


def expired(ctx: TurnContext, awaiting: dict) -> bool:
    at = datetime.fromisoformat(awaiting["at"])
    return utcnow() - at > timedelta(minutes=ctx.settings.dialog_idle_minutes)
