"""Door check-in with pretix's semantics: checking a ticket in is idempotent; a repeat answers "already checked in
at HH:MM by NAME" and changes nothing; a cancelled, unknown or other-event ticket is refused with the reason.

The check-in is one conditional UPDATE (`status = 'registered'` → `checked_in`), so two organizers scanning one
ticket at once produce exactly one check-in: the row lock serialises them and the second finds it done.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models import Event, Registration, User
from models.base import utcnow


@dataclass(frozen=True)
class CheckIn:
    """`status`: checked_in | already | cancelled | unknown | other_event."""

    status: str
    registration: Registration | None = None
    event: Event | None = None
    attendee: User | None = None
    by: User | None = None
    at: datetime | None = None


def check_in(session: Session, code: str, organizer: User, allowed_events: set[int] | None) -> CheckIn:
    """Checks the ticket with `code` in for `organizer`, who may act on `allowed_events` (None: every event)."""
    ticket = session.scalars(select(Registration)
                             .where(func.upper(Registration.ticket_code) == code.strip().upper())).first()
    if ticket is None:
        return CheckIn("unknown")
    if allowed_events is not None and ticket.event_id not in allowed_events:
        return CheckIn("other_event")
    now = utcnow()
    claimed = session.execute(update(Registration)
                              .where(Registration.id == ticket.id, Registration.status == "registered")
                              .values(status="checked_in", checked_in_at=now, checked_in_by=organizer.id,
                                      updated_at=now)
                              .execution_options(synchronize_session=False)).rowcount
    session.refresh(ticket)
    event, attendee = session.get(Event, ticket.event_id), session.get(User, ticket.user_id)
    if claimed == 1:
        return CheckIn("checked_in", ticket, event, attendee, organizer, now)
    if ticket.status == "checked_in":
        by = session.get(User, ticket.checked_in_by) if ticket.checked_in_by else None
        return CheckIn("already", ticket, event, attendee, by, ticket.checked_in_at)
    return CheckIn("cancelled", ticket, event, attendee)
