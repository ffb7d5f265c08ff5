"""How events and tickets read in a WhatsApp reply, in the user's language (texts from bot/i18n/locales/events.yaml).

Dates are in the event's own time zone (Aden by default), prices in Yemeni rials, Arabic replies with Arabic
month names and Arabic-Indic digits, and ticket codes and URLs isolated so right-to-left text cannot reorder
them.
"""
from __future__ import annotations

from bot.i18n import catalog, localize
from models import Event, Registration


def event_line(n: int, event: Event, language: str) -> str:
    return catalog.say("events_line", language, n=localize.number(n, language), title=event.title(language),
                       date=localize.short_date(event.starts_at, language, event.timezone),
                       price=localize.price(event.price_yer, language))


def seats_note(event: Event, language: str) -> str:
    """"12 left of 40", "only 2 left — book soon!" or "sold out"."""
    left = event.seats_left
    if left <= 0:
        return catalog.say("sold_out", language)
    if left <= max(3, event.capacity // 10):
        return catalog.say("seats_last", language, seats=localize.seats(left, language))
    return catalog.say("seats_left", language, seats=localize.number(left, language),
                       capacity=localize.number(event.capacity, language))


def address(event: Event, language: str, venue: str = "") -> str:
    """The street address (one field, often in Latin script), without the comma-separated parts the venue
    already says ("Crater" after "Tawila Gardens, Crater"): isolated inside Arabic text."""
    said = {part.strip().casefold() for part in venue.split(",")}
    street = ", ".join(part.strip() for part in (event.address or "").split(",")
                       if part.strip() and part.strip().casefold() not in said)
    return localize.isolate(street, language, ltr=False) if street else ""


def venue_line(event: Event, language: str) -> str:
    """The venue and street address; in Arabic the Arabic venue alone when there is one (the address field is
    usually Latin script and would repeat it in English)."""
    venue = event.venue(language) or ""
    street = "" if language == "ar" and event.venue_ar else address(event, language, venue)
    parts = [p for p in (venue, street) if p]
    return "، ".join(parts) if language == "ar" else ", ".join(parts)


def map_suffix(event: Event, language: str) -> str:
    url = localize.map_link(event.latitude, event.longitude)
    return catalog.say("event_map", language, url=localize.isolate(url, language)) if url else ""


def event_details(event: Event, language: str) -> str:
    description = event.description(language)
    if event.status == "cancelled":
        seats = catalog.say("event_cancelled_note", language)
    else:
        seats = seats_note(event, language)
    return catalog.say("event_details", language, title=event.title(language),
                       when=localize.when(event.starts_at, language, event.timezone),
                       venue=venue_line(event, language) or "—", price=localize.price(event.price_yer, language),
                       seats=seats, description=f"\n\n{description.strip()}" if description else "",
                       map=map_suffix(event, language))


def location_pin(event: Event, language: str) -> tuple[str, dict]:
    """The text and send options of a WhatsApp location message (Twilio's PersistentAction `geo:` pin)."""
    label = (event.venue(language) or event.title(language)).replace("|", " ")
    street = address(event, language, event.venue(language) or "")
    body = catalog.say("location_pin", language, venue=event.venue(language) or event.title(language),
                       title=event.title(language), address=f"\n{street}" if street else "",
                       map=map_suffix(event, language))
    action = f"geo:{event.latitude:.6f},{event.longitude:.6f}|{label}"
    return body, {"persistent_action": [action]}


def ticket_line(n: int, ticket: Registration, event: Event, language: str) -> str:
    return catalog.say("tickets_line", language, n=localize.number(n, language), title=event.title(language),
                       date=localize.short_date(event.starts_at, language, event.timezone),
                       code=localize.code(ticket.ticket_code, language), seats=localize.seats(ticket.seats, language))


def ticket_details(ticket: Registration, event: Event, language: str) -> str:
    status = catalog.say("ticket_checked_in", language) if ticket.status == "checked_in" else ""
    return catalog.say("ticket_details", language, title=event.title(language),
                       when=localize.when(event.starts_at, language, event.timezone),
                       venue=venue_line(event, language) or "—", code=localize.code(ticket.ticket_code, language),
                       seats=localize.seats(ticket.seats, language), status=status)


def total_price(event: Event, seats: int, language: str) -> str:
    return localize.price(event.price_yer * seats, language)
