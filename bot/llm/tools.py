"""The LLM's tools: what the model may look up and ask for, run against the same services as the menus.

Five function tools — `list_events`, `event_details`, `my_tickets`, `register`, `cancel_ticket` — answer in
compact JSON for the model. Bad arguments (an unknown code, seats outside 1..max) answer with an error object
the model can recover from; a tool never raises into the loop.

`register` and `cancel_ticket` never write. With valid arguments they make a domain request
(`BookingRequest`, `CancelRequest`, bot/events/requests.py) and hand it to `confirm`, which the dialog supplies:
it answers with the journeys' confirmation question (deterministic catalog text, `awaiting` set), so the user's
own "yes" / "نعم" makes the change through the menu's code path — or with the journeys' refusal (duplicate,
full, closed). That reply ends the turn. This package never imports the dialog.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.events import service as services
from bot.events.requests import BookingChange, BookingRequest, CancelRequest
from bot.i18n import localize
from bot.llm.client import ToolCall
from models import Event, Registration
from models.events import ACTIVE_REGISTRATION

log = logging.getLogger(__name__)
LIST_DEFAULT, LIST_MAX = 5, 10
VISIBLE = ("published", "cancelled")  # drafts are unknown to attendees, and so to the model


@dataclass(frozen=True)
class ToolResult:
    """`content` goes back to the model as the `tool` message; a `reply` ends the turn with that reply."""

    content: str
    reply: Any = None


@dataclass(frozen=True)
class ToolTurn:
    """Whom a turn's tools act for: the turn's session, user and language."""

    session: Session
    user_id: int
    language: str
    message_id: int


def compact(value: dict) -> str:
    """JSON without spaces or ASCII escapes: Arabic stays readable and cheap in tokens."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def error(code: str, message: str, **extra) -> ToolResult:
    return ToolResult(compact({"error": code, "message": message, **extra}))


def schemas(max_seats: int) -> list[dict]:
    """The tools as offered to the model; descriptions are written for it, with both languages' users in mind."""
    code = {"type": "string", "description": "The event's code exactly as a tool returned it, e.g. ADEN-JAZZ-25."}
    return [
        _function("list_events",
                  "Upcoming published events in Aden, soonest first. Use it for any question about what is on "
                  "(\"what's on this weekend?\", \"شو في فعاليات السبت؟\") and to find an event's code before "
                  "event_details or register. Returns code, titles, Aden start time, price in YER (0 = free), "
                  "seats left, venue and map link.",
                  {"query": {"type": "string",
                             "description": "Optional words from the event's name, category or venue, in English "
                                            "or Arabic (\"jazz\", \"حفلة\", \"workshop\"), or its code. Leave out "
                                            "to list everything."},
                   "from_date": {"type": "string", "description": "Optional first day, YYYY-MM-DD in Aden time."},
                   "to_date": {"type": "string", "description": "Optional last day (inclusive), YYYY-MM-DD."},
                   "limit": {"type": "integer", "minimum": 1, "maximum": LIST_MAX,
                             "description": f"How many events at most (default {LIST_DEFAULT})."}}),
        _function("event_details",
                  "Everything about one event: description, venue, address, map link, start and end in Aden "
                  "time, price, seats left, and the user's ticket for it if they have one.",
                  {"code": code}, ["code"]),
        _function("my_tickets",
                  "The user's own active tickets for events that have not ended: ticket code, event, date and "
                  "seats. Use it for \"my tickets\" / \"تذاكري\" and before cancel_ticket.", {}),
        _function("register",
                  "Start booking seats at an event for the user. It does NOT book: the bot shows the user a "
                  "confirmation question and books only when they reply yes. Call it only when the user asked to "
                  f"book and you know the event's code and the number of seats (1 to {max_seats}); if they did "
                  "not say how many, ask them first. After this call do not write anything else.",
                  {"code": code, "seats": {"type": "integer", "minimum": 1, "maximum": max_seats,
                                           "description": "Number of seats on one ticket."}},
                  ["code", "seats"]),
        _function("cancel_ticket",
                  "Start cancelling one of the user's tickets. It does NOT cancel: the bot asks the user to "
                  "confirm. Call my_tickets first if you do not know which ticket they mean.",
                  {"ticket_code": {"type": "string",
                                   "description": "The ticket's code from my_tickets (the event's code also "
                                                  "works when the user has one ticket for it)."}},
                  ["ticket_code"]),
    ]


def _function(name: str, description: str, properties: dict, required: list[str] | None = None) -> dict:
    parameters = {"type": "object", "properties": properties, "required": required or [],
                  "additionalProperties": False}
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


def event_facts(event: Event, language: str) -> dict:
    """One event as the model sees it; empty fields are left out."""
    local = event.starts_at.astimezone(localize.zone(event.timezone))
    facts = {"code": event.code, "title_en": event.title_en, "title_ar": event.title_ar,
             "starts": local.isoformat(timespec="minutes"), "when": localize.when(event.starts_at, language,
                                                                                   event.timezone),
             "price_yer": event.price_yer, "seats_left": event.seats_left, "venue": event.venue(language),
             "map": localize.map_link(event.latitude, event.longitude), "category": event.category}
    if event.status != "published":
        facts["status"] = event.status
    return _present(facts)


def ticket_facts(ticket: Registration, event: Event, language: str) -> dict:
    return {"ticket_code": ticket.ticket_code, "event_code": event.code, "event": event.title(language),
            "when": localize.when(event.starts_at, language, event.timezone), "seats": ticket.seats,
            "status": ticket.status}


def upcoming_lines(session: Session, language: str, limit: int, text: str = "") -> list[str]:
    """The events the question names first, then the next ones, one line each, for the system prompt:
    code | titles | Aden time (and end) | price | seats left | venue."""
    named = services.find_events(session, text)[:3] if text else []
    listed = list({e.id: e for e in (*named, *services.upcoming(session, limit=limit))}.values())
    return [_event_line(e, language) for e in listed]


def _event_line(e: Event, language: str) -> str:
    ends = f" – {localize.clock(e.ends_at, language, e.timezone)}" if e.ends_at else ""
    venue = e.venue(language) or ""
    return (f"- {e.code} | {e.title_en} / {e.title_ar} | {localize.when(e.starts_at, language, e.timezone)}{ends} | "
            f"{e.price_yer} YER | {e.seats_left} | {venue}")


class EventTools:
    """The five tools, bound to one turn (its user, language and session).

    `confirm` turns a booking request into the reply that ends the turn (the dialog's confirm step); the reply
    needs `text`, and `action_taken` set when it asks for a confirmation (none for a refusal).
    """

    def __init__(self, turn: ToolTurn, max_seats: int, confirm: Callable[[BookingChange], Any]) -> None:
        self.turn = turn
        self.confirm = confirm
        self.max_seats = max_seats
        self.schemas = schemas(self.max_seats)
        self._tools = {"list_events": self.list_events, "event_details": self.event_details,
                       "my_tickets": self.my_tickets, "register": self.register,
                       "cancel_ticket": self.cancel_ticket}

    def run(self, call: ToolCall) -> ToolResult:
        """Runs one tool call; malformed or unknown calls answer with an error for the model."""
        tool = self._tools.get(call.name)
        if tool is None:
            return error("unknown_tool", f"There is no tool {call.name!r}.", tools=sorted(self._tools))
        try:
            args = json.loads(call.arguments or "{}")
        except ValueError:
            return error("invalid_arguments", "The arguments are not valid JSON.")
        if not isinstance(args, dict):
            return error("invalid_arguments", "The arguments must be a JSON object.")
        result = tool(args)
        log.info("tool called message_id=%s tool=%s ends_turn=%s", self.turn.message_id, call.name,
                 result.reply is not None)
        return result

    # --- lookups ---------------------------------------------------------------------------------------

    def list_events(self, args: dict) -> ToolResult:
        query = str(args.get("query") or "").strip()
        try:
            first, last = _day(args.get("from_date")), _day(args.get("to_date"))
        except ValueError:
            return error("invalid_date", "Dates must be YYYY-MM-DD (Aden time).")
        limit = _whole(args.get("limit"))
        limit = LIST_DEFAULT if limit is None else min(max(limit, 1), LIST_MAX)
        in_range = [e for e in services.upcoming(self.turn.session) if _within(e, first, last)]
        named = {e.id for e in services.find_events(self.turn.session, query)} if query else None
        found = [e for e in in_range if named is None or e.id in named]
        result: dict = {"count": len(found)}
        if query and not found and in_range:
            # The words may just be in the other language ("حفلة" for "Jazz Night"): show what is on instead.
            found = in_range
            result = {"count": 0, "note": "No event's name matches those words; these are all upcoming events "
                                          "in the dates asked. Judge yourself whether one is what the user means.",
                      "all_count": len(in_range)}
        elif not found:
            result["note"] = "No upcoming event in those dates. Say so; never suggest events that are not listed."
        result["events"] = [event_facts(e, self.turn.language) for e in found[:limit]]
        return ToolResult(compact(result))

    def event_details(self, args: dict) -> ToolResult:
        event = self._event(args.get("code"))
        if event is None:
            return self._unknown_event(args.get("code"))
        facts = event_facts(event, self.turn.language)
        ends = event.ends_at.astimezone(localize.zone(event.timezone)).isoformat(timespec="minutes") \
            if event.ends_at else None
        facts.update(_present({"description": event.description(self.turn.language), "address": event.address,
                               "capacity": event.capacity, "ends": ends}))
        ticket = services.active_ticket(self.turn.session, self.turn.user_id, event.id)
        if ticket is not None:
            facts["your_ticket"] = {"ticket_code": ticket.ticket_code, "seats": ticket.seats}
        return ToolResult(compact(facts))

    def my_tickets(self, args: dict) -> ToolResult:
        rows = services.tickets_of(self.turn.session, self.turn.user_id)
        return ToolResult(compact({"count": len(rows),
                                   "tickets": [ticket_facts(t, e, self.turn.language) for t, e in rows]}))

    # --- requests that the user confirms ---------------------------------------------------------------

    def register(self, args: dict) -> ToolResult:
        event = self._event(args.get("code"))
        if event is None:
            return self._unknown_event(args.get("code"))
        seats = _whole(args.get("seats"))
        if seats is None or not 1 <= seats <= self.max_seats:
            return error("invalid_seats", f"seats must be a whole number from 1 to {self.max_seats}; ask the user "
                                          "how many seats they want.", max_seats=self.max_seats)
        return _ends_turn(self.confirm(BookingRequest(event.id, seats)))

    def cancel_ticket(self, args: dict) -> ToolResult:
        found = self._ticket(args.get("ticket_code") or args.get("code"))
        if found is None:
            return error("unknown_ticket", "The user has no active ticket with that code. Call my_tickets to see "
                                           "their tickets.")
        ticket, _ = found
        return _ends_turn(self.confirm(CancelRequest(ticket.id)))

    # --- helpers ---------------------------------------------------------------------------------------

    def _event(self, code) -> Event | None:
        if not isinstance(code, str) or not code.strip():
            return None
        event = services.event_by_code(self.turn.session, code)
        return event if event is not None and event.status in VISIBLE else None

    def _unknown_event(self, code) -> ToolResult:
        return error("unknown_event", f"No event has the code {code!r}. Call list_events to find the right code; "
                                      "never guess one.")

    def _ticket(self, code) -> tuple[Registration, Event] | None:
        """The user's active ticket by its code, or their one active ticket at the event with that code."""
        if not isinstance(code, str) or not code.strip():
            return None
        wanted = code.strip().upper()
        row = self.turn.session.execute(
            select(Registration, Event).join(Event, Event.id == Registration.event_id)
            .where(Registration.user_id == self.turn.user_id, Registration.status.in_(ACTIVE_REGISTRATION),
                   (func.upper(Registration.ticket_code) == wanted) | (func.upper(Event.code) == wanted))
            .order_by((func.upper(Registration.ticket_code) == wanted).desc(), Registration.id)).first()
        return (row[0], row[1]) if row else None


def _ends_turn(reply) -> ToolResult:
    """The journeys' reply goes to the user as is. Its `action_taken` (registration_requested /
    cancellation_requested) says a confirmation was asked; without one it is a refusal (full, duplicate...)."""
    outcome = "confirmation_asked" if reply.action_taken else "refused"
    return ToolResult(compact({"status": outcome, "shown_to_user": reply.text}), reply)


def _present(facts: dict) -> dict:
    """Without the empty fields: every key costs the model tokens."""
    return {k: v for k, v in facts.items() if v is not None}


def _whole(value) -> int | None:
    """An integer from the model's arguments (2, 2.0 or "2"); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _day(value) -> date | None:
    if value in (None, ""):
        return None
    return date.fromisoformat(str(value)[:10])


def _within(event: Event, first: date | None, last: date | None) -> bool:
    day = event.starts_at.astimezone(localize.zone(event.timezone)).date()
    return (first is None or day >= first) and (last is None or day <= last)

