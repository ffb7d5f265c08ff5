"""Who may run the console, and on which events: admins on every event, organizers on their own (the events'
`organizers` column of `events import`), attendees on none."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.events import service as events
from models import Event, EventOrganizer, User

CONSOLE_ROLES = ("organizer", "admin")


def may_use_console(user: User) -> bool:
    return user.role in CONSOLE_ROLES


def own_events(session: Session, user: User) -> list[Event]:
    """The events this person may act on, soonest first (drafts included: they are the organizers' own)."""
    query = select(Event).order_by(Event.starts_at, Event.id)
    if user.role != "admin":
        query = query.join(EventOrganizer, EventOrganizer.event_id == Event.id).where(EventOrganizer.user_id == user.id)
    return list(session.scalars(query))


def own_event(session: Session, user: User, code: str) -> Event | None:
    """The event with this code if this person may act on it, else None (whether it exists or not)."""
    event = events.event_by_code(session, code)
    if event is None or user.role == "admin":
        return event
    allowed = session.scalar(select(EventOrganizer.id).where(EventOrganizer.event_id == event.id,
                                                             EventOrganizer.user_id == user.id))
    return event if allowed else None
