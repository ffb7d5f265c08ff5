"""Capacity is the database's job: concurrent claims of the last seats through `bot.events.register`, each
on its own connection, never oversell; the CHECK refuses a direct oversell; a cancellation gives seats back."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from bot.core.db import db as database
from bot.events import service as event_service
from models import Event, Registration, User
from models.base import utcnow

THREADS = 12


def _users(session, count: int, prefix: str) -> list[int]:
    users = [User(phone=f"+9677{prefix}{n:05d}") for n in range(count)]
    session.add_all(users)
    session.flush()
    return [u.id for u in users]


@pytest.fixture
def make_event(app):
    """An upcoming published event with `capacity`, `taken` of its seats held by real registrations."""

    def make(capacity: int, taken: int) -> int:
        with app.app_context(), database.session_scope() as s:
            event = Event(code="LAST-SEATS", title_en="Oud & Jazz Night", title_ar="ليلة العود والجاز",
                          starts_at=utcnow() + timedelta(days=3), capacity=capacity, status="published")
            s.add(event)
            s.flush()
            for user_id in _users(s, taken, "10"):
                assert event_service.register(s, user_id, event.id, 1, max_seats=5).status == "created"
            return event.id

    return make


def _register_at_once(app, event_id: int, user_ids: list[int], seats: int) -> list[str]:
    """Every user claims `seats` from its own thread and connection, all released by one barrier."""
    barrier = threading.Barrier(len(user_ids))
    statuses: list[str] = []
    errors: list[BaseException] = []

    def claim(user_id: int) -> None:
        try:
            with app.app_context(), database.session_scope() as s:
                s.execute(text("SELECT 1"))  # connected before the race starts
                barrier.wait(timeout=30)
                statuses.append(event_service.register(s, user_id, event_id, seats, max_seats=5).status)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(user_id,)) for user_id in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return statuses


def _seats(session, event_id: int) -> tuple[int, int, int]:
    """(seats_taken, capacity, seats held by active registrations)."""
    event = session.get(Event, event_id)
    held = session.scalar(select(func.coalesce(func.sum(Registration.seats), 0))
                          .where(Registration.event_id == event_id,
                                 Registration.status.in_(("registered", "checked_in"))))
    return event.seats_taken, event.capacity, held


@pytest.mark.parametrize("capacity, taken, seats, sold, losers", [
    (5, 3, 1, 2, "full"),        # two seats left, twelve people want one each
    (6, 1, 2, 2, "not_enough"),  # five left, twelve want two: two tickets, then one seat nobody can use
])
def test_last_seats_are_sold_exactly_once(app, session, make_event, capacity, taken, seats, sold, losers):
    event_id = make_event(capacity, taken)
    user_ids = _users(session, THREADS, "20")
    session.commit()
    statuses = _register_at_once(app, event_id, user_ids, seats)
    assert len(statuses) == THREADS
    assert statuses.count("created") == sold, statuses
    assert set(statuses) - {"created"} == {losers}, statuses
    session.expire_all()
    seats_taken, stored_capacity, held = _seats(session, event_id)
    assert seats_taken == taken + sold * seats == held
    assert seats_taken <= stored_capacity
    if losers == "full":
        assert seats_taken == stored_capacity


def test_database_refuses_more_seats_than_capacity(make_event, session):
    event_id = make_event(capacity=5, taken=2)
    with pytest.raises(IntegrityError, match="seats_within_capacity"):
        session.execute(text("UPDATE events SET seats_taken = capacity + 1 WHERE id = :id"), {"id": event_id})
    session.rollback()
    with pytest.raises(IntegrityError, match="seats_within_capacity"):
        session.execute(text("UPDATE events SET seats_taken = -1 WHERE id = :id"), {"id": event_id})
    session.rollback()
    assert session.get(Event, event_id).seats_taken == 2


def test_cancel_gives_the_seats_back(make_event, session):
    event_id = make_event(capacity=4, taken=2)
    holder, waiting = _users(session, 2, "30")
    booking = event_service.register(session, holder, event_id, 2, max_seats=5)
    assert (booking.status, booking.seats_left) == ("created", 0)
    assert event_service.register(session, waiting, event_id, 1, max_seats=5).status == "full"
    session.commit()

    cancelled = event_service.cancel(session, holder, booking.registration.id)
    assert (cancelled.status, cancelled.seats_left) == ("cancelled", 2)
    assert cancelled.registration.status == "cancelled" and cancelled.registration.cancelled_at is not None
    assert event_service.cancel(session, holder, booking.registration.id).status == "not_found", "only once"
    assert event_service.register(session, waiting, event_id, 2, max_seats=5).status == "created"
    session.commit()
    assert _seats(session, event_id) == (4, 4, 4)
