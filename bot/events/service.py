"""Events and tickets: the queries and the two writes (register, cancel) that every journey uses.

Menus, free text and the LLM's tools all call these, so the same checks hold whichever way a user asks:
published and not yet started, seats within capacity (enforced by the database), one active ticket per
user and event, at most `max_seats` seats per ticket. The caller's transaction commits.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.events.naming import NameMatch, best_matches, name_match
from models import Event, Registration
from models.base import utcnow
from models.events import ACTIVE_REGISTRATION

log = logging.getLogger(__name__)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: codes are read aloud at the door
CODE_LENGTH = 6
@dataclass(frozen=True)
class Booking:
    """The outcome of `register` or `cancel`.

    `status`: created | duplicate | full | not_enough | closed | too_many | cancelled | not_found.
    """

    status: str
    event: Event | None = None
    registration: Registration | None = None
    seats_left: int = 0


_UPCOMING = "upcoming_events"  # session.info key: (transaction, events) read by `upcoming`


def upcoming_query(now: datetime):
    return (select(Event).where(Event.status == "published", Event.starts_at > now)
            .order_by(Event.starts_at, Event.id))


def upcoming(session: Session, now: datetime | None = None, limit: int | None = None, offset: int = 0) -> list[Event]:
    """Published events that have not started, soonest first.

    Read once per transaction (a turn asks up to three times: the facts, the named events, the LLM's prompt):
    the list is kept in `session.info` with the transaction it was read in. Within one transaction the
    events are the identity map's objects, so a booking's seats are seen by the next call; a commit starts a
    new transaction and a fresh read. An explicit `now` always reads.
    """
    if now is not None:
        query = upcoming_query(now).offset(offset)
        return list(session.scalars(query.limit(limit) if limit is not None else query))
    transaction = session.get_transaction()
    kept = session.info.get(_UPCOMING)
    if kept is None or transaction is None or kept[0] is not transaction:
        kept = (transaction, list(session.scalars(upcoming_query(utcnow()))))
        session.info[_UPCOMING] = kept
    listed = kept[1][offset:]
    return listed[:limit] if limit is not None else listed


def count_upcoming(session: Session, now: datetime | None = None) -> int:
    return session.execute(select(func.count()).select_from(upcoming_query(now or utcnow()).subquery())).scalar_one()


def event_by_code(session: Session, code: str) -> Event | None:
    return session.scalars(select(Event).where(func.upper(Event.code) == code.strip().upper())).first()


def find_events(session: Session, text: str, now: datetime | None = None) -> list[Event]:
    """Upcoming events a free-text name points to ("the jazz night", "حفلة السبت", a typo, Arabizi, a code),
    best first (bot/events/naming.py); an empty list when the text names none."""
    return best_matches(text, upcoming(session, now))


def match_events(session: Session, text: str, now: datetime | None = None) -> NameMatch:
    """`find_events` with how strongly the text names them."""
    return name_match(text, upcoming(session, now))


def active_ticket(session: Session, user_id: int, event_id: int) -> Registration | None:
    return session.scalars(select(Registration).where(Registration.user_id == user_id,
                                                      Registration.event_id == event_id,
                                                      Registration.status.in_(ACTIVE_REGISTRATION))).first()


def ticket_by_code(session: Session, user_id: int, code: str) -> Registration | None:
    """The user's own ticket with this code (codes are case-insensitive when typed)."""
    return session.scalars(select(Registration).where(Registration.user_id == user_id,
                                                      Registration.ticket_code == code.strip().upper())).first()


def tickets_of(session: Session, user_id: int, now: datetime | None = None) -> list[tuple[Registration, Event]]:
    """The user's active tickets for events that have not ended, soonest first."""
    now = now or utcnow()
    rows = session.execute(select(Registration, Event).join(Event, Event.id == Registration.event_id)
                           .where(Registration.user_id == user_id, Registration.status.in_(ACTIVE_REGISTRATION),
                                  func.coalesce(Event.ends_at, Event.starts_at) > now)
                           .order_by(Event.starts_at, Registration.id)).all()
    return [(r, e) for r, e in rows]


def new_ticket_code(session: Session) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if session.scalar(select(Registration.id).where(Registration.ticket_code == code)) is None:
            return code


def register(session: Session, user_id: int, event_id: int, seats: int, max_seats: int,
             source: str = "menu") -> Booking:
    """Claims `seats` of the event for the user and writes the ticket, or says why not.

    The seat count moves in one conditional UPDATE (`seats_taken + seats <= capacity`), so concurrent
    claims of the last seats cannot oversell: the row lock serialises them and the database's CHECK
    refuses anything else. One user's turns run one at a time, so the duplicate check cannot race with
    itself; the partial unique index backs it up.
    """
    event = session.get(Event, event_id)
    if event is None:
        return Booking("not_found")
    if seats < 1 or seats > max_seats:
        return Booking("too_many", event, seats_left=event.seats_left)
    existing = active_ticket(session, user_id, event_id)
    if existing is not None:
        return Booking("duplicate", event, existing, event.seats_left)
    now = utcnow()
    claimed = session.execute(update(Event)
                              .where(Event.id == event_id, Event.status == "published", Event.starts_at > now,
                                     Event.seats_taken + seats <= Event.capacity)
                              .values(seats_taken=Event.seats_taken + seats, updated_at=now)
                              .execution_options(synchronize_session=False)).rowcount
    session.refresh(event)
    if claimed != 1:
        if event.status != "published" or event.starts_at <= now:
            return Booking("closed", event, seats_left=event.seats_left)
        return Booking("full" if event.seats_left == 0 else "not_enough", event, seats_left=event.seats_left)
    ticket = Registration(event_id=event_id, user_id=user_id, ticket_code=new_ticket_code(session), seats=seats,
                          status="registered", source=source, created_at=now, updated_at=now)
    session.add(ticket)
    session.flush()
    log.info("registration created user_id=%s event_id=%s seats=%d ticket=%s", user_id, event_id, seats,
             ticket.ticket_code)
    return Booking("created", event, ticket, event.seats_left)


def cancel(session: Session, user_id: int, registration_id: int) -> Booking:
    """Cancels the user's ticket and gives its seats back; only a ticket still `registered` can be."""
    now = utcnow()
    row = session.execute(update(Registration)
                          .where(Registration.id == registration_id, Registration.user_id == user_id,
                                 Registration.status == "registered")
                          .values(status="cancelled", cancelled_at=now, updated_at=now)
                          .returning(Registration.event_id, Registration.seats)
                          .execution_options(synchronize_session=False)).first()
    if row is None:
        return Booking("not_found")
    session.execute(update(Event).where(Event.id == row.event_id)
                    .values(seats_taken=Event.seats_taken - row.seats, updated_at=now)
                    .execution_options(synchronize_session=False))
    event = session.get(Event, row.event_id)
    session.refresh(event)
    ticket = session.get(Registration, registration_id)
    session.refresh(ticket)
    log.info("registration cancelled user_id=%s registration_id=%s seats=%d", user_id, registration_id, row.seats)
    return Booking("cancelled", event, ticket, event.seats_left)
