"""Demo data so a fresh bot has something to talk about: a few upcoming Aden events, the events FAQ, one
organizer and the demo attendees who nearly fill the smallest event.

Everything goes through the code paths real data takes: the events file checks and upsert
(`bot.events.files`), the FAQ upsert (`bot.nlu.faq_files.import_rows`) and bookings by
`bot.events.service.register`, so seats_taken is honest. Running it again changes nothing except moving the
events to stay upcoming.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.events import files as events_io
from bot.events import service as event_service
from bot.nlu import faq_files as faq_io
from models import Registration, User
from models.events import DEFAULT_TIMEZONE

log = logging.getLogger(__name__)
DATA_DIR = Path(__file__).resolve().parent / "data"
DEMO_EVENTS = DATA_DIR / "demo_events.yaml"
DEMO_FAQ = DATA_DIR / "events_faq.csv"  # a copy of ../shared/eval/events_faq.csv
SCHEDULE_KEYS = ("in_days", "at", "hours", "attendees")
DEMO_SOURCE = "demo"


@dataclass(frozen=True)
class DemoResult:
    events: events_io.ImportResult
    faq: faq_io.ImportResult
    tickets_created: int
    organizer: str

    def __str__(self) -> str:
        faq = f"{self.faq.created} created, {self.faq.updated} updated, {self.faq.unchanged} unchanged"
        return (f"events: {self.events}; FAQ: {faq}; demo tickets: {self.tickets_created} created; "
                f"organizer {self.organizer}")


def aden_today() -> date:
    return datetime.now(ZoneInfo(DEFAULT_TIMEZONE)).date()


def event_file_row(spec: dict, organizer: str, today: date) -> dict:
    """A demo event spec → one row of the events file format, its times local to the event's zone."""
    row = {k: v for k, v in spec.items() if k not in SCHEDULE_KEYS}
    starts = datetime.combine(today + timedelta(days=int(spec["in_days"])), time.fromisoformat(spec["at"]))
    row["starts_at"] = starts.isoformat()
    row["ends_at"] = (starts + timedelta(hours=float(spec["hours"]))).isoformat() if spec.get("hours") else None
    row["organizers"] = organizer
    return row


def load_demo(path: Path = DEMO_EVENTS) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _attendee(session: Session, spec: dict) -> User:
    user = session.scalars(select(User).where(User.phone == spec["phone"])).first()
    if user is None:
        user = User(phone=spec["phone"], display_name=spec.get("name"), preferred_language=spec.get("language"))
        session.add(user)
        session.flush()
    return user


def _book(session: Session, event_code: str, attendees: list[dict], max_seats: int) -> int:
    """Books each demo attendee's seats once; returns how many tickets were created this time."""
    event = event_service.event_by_code(session, event_code)
    created = 0
    for spec in attendees:
        booking = event_service.register(session, _attendee(session, spec).id, event.id, int(spec["seats"]),
                                         max_seats=max(max_seats, int(spec["seats"])), source=DEMO_SOURCE)
        if booking.status == "created":
            created += 1
        elif booking.status != "duplicate":
            log.warning("demo booking refused event=%s phone=%s status=%s", event_code, spec["phone"],
                        booking.status)
    # Demo numbers are not real people: their 24-hour reminders are settled so none is ever sent.
    session.execute(update(Registration).where(Registration.source == DEMO_SOURCE,
                                               Registration.reminder_status.is_(None))
                    .values(reminder_status="skipped", reminder_note="demo attendee")
                    .execution_options(synchronize_session=False))
    return created


def seed_demo(session: Session, max_seats: int, today: date | None = None) -> DemoResult:
    """Upserts the demo events, the events FAQ, the organizer and the demo bookings in the caller's
    transaction. The caller invalidates the matcher cache after committing.

    Args:
        session: the transaction to write in.
        max_seats: the largest ticket a demo attendee may book (the settings' max_seats_per_ticket).
        today: the day the demo's `in_days` count from; today in Aden by default.
    """
    demo, today = load_demo(), today or aden_today()
    rows = events_io.check_rows([(n, event_file_row(spec, demo["organizer"], today))
                                 for n, spec in enumerate(demo["events"], start=1)])
    events = events_io.import_rows(session, rows)
    faq = faq_io.import_rows(session, faq_io.read_faq_file(DEMO_FAQ))
    tickets = sum(_book(session, spec["code"], spec["attendees"], max_seats)
                  for spec in demo["events"] if spec.get("attendees"))
    log.info("demo seeded events=%s tickets_created=%d", events, tickets)
    return DemoResult(events, faq, tickets, demo["organizer"])
