"""`flask seed-demo`: upcoming Aden events, the events FAQ and an organizer, the same rows however often it
runs; the nearly-full event's seats are real registrations."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.core.db import db as database
from bot.events import service as event_service
from bot.events.demo import aden_today, load_demo, seed_demo
from bot.i18n import localize
from bot.wiring import runtime
from models import FAQ, Event, EventOrganizer, Registration, User
from models.base import utcnow

ORGANIZER = "+967700000001"
TABLES = (Event, EventOrganizer, Registration, User, FAQ)
IGNORED = {"created_at", "updated_at"}


def snapshot(session) -> dict:
    """Every row of the tables seed-demo writes, without its timestamps."""
    return {model.__tablename__: sorted(tuple((a.key, repr(getattr(row, a.key)))
                                              for a in model.__mapper__.column_attrs if a.key not in IGNORED)
                                        for row in session.scalars(select(model)))
            for model in TABLES}


def seed(runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_twice_gives_the_same_rows(runner, session):
    first = seed(runner)
    assert first.startswith("events: 5 created, 0 updated, 0 unchanged; FAQ: 28 created"), first
    rows = snapshot(session)
    second = seed(runner)
    assert second.startswith("events: 0 created, 0 updated, 5 unchanged; FAQ: 0 created, 0 updated, 28 unchanged; "
                             "demo tickets: 0 created"), second
    session.expire_all()
    assert snapshot(session) == rows


def test_events_are_upcoming_bilingual_and_placed_in_aden(runner, session):
    seed(runner)
    events = event_service.upcoming(session)
    assert [e.code for e in events] == [spec["code"] for spec in load_demo()["events"]]
    now = utcnow()
    for event in events:
        assert event.starts_at > now and event.status == "published"
        assert event.title_en and event.title_ar and event.description_ar and event.venue_ar
        assert 12.7 < event.latitude < 12.9 and 44.9 < event.longitude < 45.1, "in Aden"
        local = event.starts_at.astimezone(localize.zone("Asia/Aden"))
        assert 16 <= local.hour <= 20, "afternoon or evening, Aden time"
    prices = {e.code: e.price_yer for e in events}
    assert prices["DEMO-OUD-JAZZ"] == 5000 and prices["DEMO-PORT-LECTURE"] == 0


def test_nearly_full_event_is_honest(runner, session):
    seed(runner)
    seed(runner)
    event = event_service.event_by_code(session, "DEMO-SIRA-PHOTOWALK")
    held = session.scalar(select(func.sum(Registration.seats)).where(Registration.event_id == event.id,
                                                                     Registration.status == "registered"))
    assert event.seats_taken == held == event.capacity - 1
    reminders = set(session.scalars(select(Registration.reminder_status).where(Registration.event_id == event.id)))
    assert reminders == {"skipped"}, "no reminder is ever sent to a demo number"


def test_faq_and_organizer(runner, session):
    seed(runner)
    assert session.scalar(select(func.count()).select_from(FAQ)) == 28
    organizer = session.scalars(select(User).where(User.phone == ORGANIZER)).one()
    assert organizer.role == "organizer"
    linked = set(session.scalars(select(EventOrganizer.event_id).where(EventOrganizer.user_id == organizer.id)))
    assert linked == set(session.scalars(select(Event.id))) and len(linked) == 5


def test_the_matcher_sees_the_faq_at_once(app, runner):
    with app.app_context():
        with database.session_scope() as s:
            assert len(runtime().knowledge.get(s).faqs) == 0
        seed(runner)
        with database.session_scope() as s:
            assert len(runtime().knowledge.get(s).faqs) == 28


def test_a_later_run_moves_the_events_to_stay_upcoming(app, runner, session):
    seed(runner)
    before = {e.code: e.starts_at for e in session.scalars(select(Event))}
    with app.app_context(), database.session_scope() as s:
        result = seed_demo(s, max_seats=5, today=aden_today() + timedelta(days=3))
    assert str(result.events) == "0 created, 5 updated, 0 unchanged"
    session.expire_all()
    after = {e.code: e.starts_at for e in session.scalars(select(Event))}
    assert all(after[code] - before[code] == timedelta(days=3) for code in before)


def test_refused_in_production_without_force(make_app):
    app = make_app(env="production")
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 1 and "refusing with BOT_ENV=production" in result.stderr
    with app.app_context(), database.session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 0
