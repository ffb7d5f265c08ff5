"""Browsing: the upcoming events page by page, one event's details, its location pin."""
from __future__ import annotations

from dataclasses import replace

from bot.dialog.context import Reply, TurnContext
from bot.dialog.journeys import booking
from bot.dialog.journeys.common import (
    BACK_WORDS,
    LOCATION_WORDS,
    MORE_WORDS,
    REGISTER_WORDS,
    is_booking,
    parse_seats,
    say,
    step,
)
from bot.dialog.state import unstamped
from bot.dialog.words import option_number
from bot.events import service as events
from bot.events import views
from bot.i18n import localize
from bot.nlu.normalize import normalize
from models import Event


def show_events(ctx: TurnContext, offset: int = 0, route: str = "dialog", confidence: float | None = None) -> Reply:
    size = ctx.settings.events_page_size
    total = events.count_upcoming(ctx.session)
    if total == 0:
        return step(ctx, say(ctx, "events_none"), "events_none", route=route, confidence=confidence)
    if offset >= total:
        return step(ctx, say(ctx, "events_no_more"), "events_no_more", None)
    page = events.upcoming(ctx.session, limit=size, offset=offset)
    # numbered as the header counts them ("3–4 of 4" goes on with 3), and answerable by those numbers
    lines = "\n".join(views.event_line(i, e, ctx.language) for i, e in enumerate(page, start=offset + 1))
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


def events_choice(ctx: TurnContext, state: dict) -> Reply | None:
    words = normalize(ctx.text)
    if words in MORE_WORDS:
        following = state["offset"] + len(state["ids"])
        if following >= events.count_upcoming(ctx.session):  # the list shown stays answerable
            return step(ctx, say(ctx, "events_no_more"), "events_no_more", unstamped(state))
        return show_events(ctx, following)
    index = listed_index(ctx.text, state)
    if index is not None:
        event = ctx.session.get(Event, state["ids"][index])
        return show_event(ctx, event, state["offset"]) if event else None
    named = events.find_events(ctx.session, ctx.text)
    if len(named) == 1:
        if is_booking(ctx.text):
            return booking.ask_seats_or_confirm(ctx, named[0], parse_seats(ctx.text), "text")
        return show_event(ctx, named[0], state["offset"])
    return None


def listed_index(text: str, state: dict) -> int | None:
    """Which of a page's events a number picks: the number shown beside it (3 on the page "3–4 of 4"), or its
    place on the page (1 for the first) when that number is not one shown."""
    offset, count = state.get("offset", 0), len(state["ids"])
    number = option_number(text, offset + count)
    if number is not None and number > offset:
        return number - offset - 1
    number = option_number(text, count)
    return None if number is None else number - 1


def show_event(ctx: TurnContext, event: Event, offset: int = 0) -> Reply:
    return step(ctx, views.event_details(event, ctx.language), "event_details",
                {"kind": "event", "event_id": event.id, "offset": offset}, meta={"event_code": event.code})


def event_choice(ctx: TurnContext, state: dict) -> Reply | None:
    event = ctx.session.get(Event, state["event_id"])
    if event is None:
        return None
    words = normalize(ctx.text)
    number = option_number(ctx.text, 3)
    if number == 1 or words in REGISTER_WORDS:
        return booking.ask_seats_or_confirm(ctx, event, None, "menu")
    if is_booking(ctx.text):  # "book 2 seats" books the event shown, unless the text names another one
        named = events.find_events(ctx.session, ctx.text)
        return booking.ask_seats_or_confirm(ctx, named[0] if len(named) == 1 else event, parse_seats(ctx.text), "text")
    if number == 2 or words in LOCATION_WORDS:
        return send_location(ctx, event, {"kind": "event", "event_id": event.id, "offset": state.get("offset", 0)})
    if number == 3 or words in BACK_WORDS:
        return show_events(ctx, state.get("offset", 0))
    return None


def send_location(ctx: TurnContext, event: Event, then: dict | None) -> Reply:
    if event.latitude is None or event.longitude is None:
        return step(ctx, say(ctx, "location_unknown", title=event.title(ctx.language)), "location_unknown", then)
    body, send = views.location_pin(event, ctx.language)
    return step(ctx, body, "location_pin", then, send=send)
