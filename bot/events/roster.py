"""An event's attendee list as CSV for its organizers, behind a signed link (`/attendees/<token>.csv`) that names
the event and the organizer who asked: it works for ROSTER_LINK_HOURS, and only while that person may still act
on the event. Phones are masked as in the chat; cells that a spreadsheet would run as a formula are defused; a
byte-order mark makes Excel read the Arabic names as UTF-8."""
from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.phones import mask
from models import Event, Registration, User

ROSTER_PURPOSE = "attendees-csv"
ROSTER_LINK_HOURS = 2
COLUMNS = ("n", "name", "phone", "seats", "ticket_code", "status", "registered_at", "checked_in_at")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def roster_token(event_id: int, user_id: int) -> str:
    """The value the link signs: which event, for whom."""
    return f"{event_id}:{user_id}"


def read_token(value: str) -> tuple[int, int] | None:
    event_id, _, user_id = value.partition(":")
    if not (event_id.isdigit() and user_id.isdigit()):
        return None
    return int(event_id), int(user_id)


def roster_csv(session: Session, event: Event) -> bytes:
    """Every registration that is not cancelled, in booking order."""
    rows = session.execute(select(Registration, User).join(User, User.id == Registration.user_id)
                           .where(Registration.event_id == event.id, Registration.status != "cancelled")
                           .order_by(Registration.id)).all()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for n, (ticket, user) in enumerate(rows, start=1):
        name = user.display_name or user.name_en or user.name_ar or ""
        writer.writerow([n, _cell(name), mask(user.phone), ticket.seats, ticket.ticket_code, ticket.status,
                         _iso(ticket.created_at), _iso(ticket.checked_in_at)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _cell(text: str) -> str:
    """A name a spreadsheet would evaluate (`=HYPERLINK(...)`) is kept as text."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _iso(moment) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""
