"""Event files in and out: CSV or YAML, upserted by `code` (case-insensitive), all or nothing.

CSV (UTF-8, header row) with the columns in COLUMNS; YAML is a list of mappings with the same fields, or
`{events: [...]}`. Organizers are phone numbers separated by " | " (a list in YAML). Times without an
offset are local time in the row's `timezone`; everything is stored as UTC. The format is documented in
docs/events-import.md; `export_events` writes it back so an export re-imports as "unchanged".
"""
from __future__ import annotations

import csv
import io
import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core.errors import EventFileError
from bot.core.sql import as_utc
from bot.events import values as cell
from models import Event, EventOrganizer, User
from models.base import utcnow

log = logging.getLogger(__name__)
COLUMNS = ["code", "title_en", "title_ar", "description_en", "description_ar", "venue_en", "venue_ar", "address",
           "latitude", "longitude", "starts_at", "ends_at", "timezone", "price_yer", "capacity", "status",
           "category", "organizers"]
REQUIRED = ("code", "title_en", "title_ar", "starts_at", "capacity")
ORGANIZER_SEPARATOR = " | "
ORGANIZER_ROLE = "organizer"


@dataclass(frozen=True)
class EventRow:
    """One checked row: the Event's stored values (times in UTC) and its organizers' E.164 numbers."""

    number: int
    code: str
    title_en: str
    title_ar: str
    description_en: str | None
    description_ar: str | None
    venue_en: str | None
    venue_ar: str | None
    address: str | None
    latitude: float | None
    longitude: float | None
    starts_at: datetime
    ends_at: datetime | None
    timezone: str
    price_yer: int
    capacity: int
    status: str
    category: str | None
    organizers: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"row {self.number} (code {self.code!r})"

    def event_values(self) -> dict:
        """The columns an import writes to `events` (not the code: a stored code keeps its spelling)."""
        values = asdict(self)
        for name in ("number", "code", "organizers"):
            values.pop(name)
        return values


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


def _cells(raw: dict) -> dict:
    """The row's values by field, every parser run so that one row reports all of its problems."""
    errors: list[str] = []

    def attempt(parse, *args):
        try:
            return parse(*args)
        except ValueError as exc:
            errors.append(str(exc))
            return None

    zone = attempt(cell.zone_name, raw.get("timezone"))
    values = {
        "code": attempt(cell.code, raw.get("code")),
        "title_en": attempt(cell.required_text, raw.get("title_en"), "title_en", 200),
        "title_ar": attempt(cell.required_text, raw.get("title_ar"), "title_ar", 200),
        "description_en": cell.text(raw.get("description_en")),
        "description_ar": cell.text(raw.get("description_ar")),
        "venue_en": attempt(cell.bounded_text, raw.get("venue_en"), "venue_en", 200),
        "venue_ar": attempt(cell.bounded_text, raw.get("venue_ar"), "venue_ar", 200),
        "address": cell.text(raw.get("address")),
        "latitude": attempt(cell.coordinate, raw.get("latitude"), "latitude", 90.0),
        "longitude": attempt(cell.coordinate, raw.get("longitude"), "longitude", 180.0),
        "timezone": zone,
        "price_yer": attempt(cell.price_yer, raw.get("price_yer")),
        "capacity": attempt(cell.capacity, raw.get("capacity")),
        "status": attempt(cell.status, raw.get("status")),
        "category": attempt(cell.bounded_text, raw.get("category"), "category", 50),
        "organizers": attempt(cell.phones, raw.get("organizers")),
    }
    if zone is not None:
        values["starts_at"] = attempt(cell.moment, raw.get("starts_at"), "starts_at", zone)
        ends = raw.get("ends_at")
        values["ends_at"] = attempt(cell.moment, ends, "ends_at", zone) if cell.text(ends) else None
    if not errors:  # a cell that failed to parse would only repeat itself here
        errors.extend(_cross_checks(values))
    return {"values": values, "errors": errors}


def _cross_checks(values: dict) -> list[str]:
    errors = []
    if (values["latitude"] is None) != (values["longitude"] is None):
        errors.append("latitude and longitude go together: give both or neither")
    starts, ends = values.get("starts_at"), values.get("ends_at")
    if starts is not None and ends is not None and ends < starts:
        errors.append("ends_at is before starts_at")
    return errors


def check_row(number: int, raw: dict) -> tuple[EventRow | None, list[str]]:
    """One raw mapping → an EventRow, or the messages naming every problem of that row."""
    code = cell.text(raw.get("code"))
    label = f"row {number}" + (f" (code {code!r})" if code else "")
    unknown = sorted(str(k) for k in raw if k is not None and k not in COLUMNS)
    parsed = _cells(raw)
    errors = [f"unknown column(s) {', '.join(unknown)}"] if unknown else []
    if None in raw:  # csv.DictReader files cells beyond the header under None
        errors.append("has more cells than the header has columns")
    errors += parsed["errors"]
    if errors:
        return None, [f"{label}: {e}" for e in errors]
    return EventRow(number=number, **parsed["values"]), []


def _raw_rows(path: Path) -> list[tuple[int, dict]]:
    content = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in (".yaml", ".yml"):
        data = yaml.safe_load(content) or []
        if isinstance(data, dict):
            data = (data["events"] or []) if "events" in data else None  # a mapping must hold `events`
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise EventFileError([f"{path}: expected a list of events (or events: [...])"])
        return list(enumerate(data, start=1))
    reader = csv.DictReader(io.StringIO(content))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown:
        problems = ([f"lacks {', '.join(missing)}"] if missing else []) + (
            [f"has unknown column(s) {', '.join(unknown)}"] if unknown else [])
        raise EventFileError([f"{path}: header {'; '.join(problems)} (columns: {','.join(COLUMNS)})"])
    reader.fieldnames = header
    return [(line, raw) for line, raw in enumerate(reader, start=2)]  # row 1 is the header


def check_rows(numbered: list[tuple[int, dict]]) -> list[EventRow]:
    """Checks every row; raises EventFileError naming every bad row and every repeated code."""
    rows, errors, seen = [], [], {}
    for number, raw in numbered:
        row, problems = check_row(number, raw)
        if problems:
            errors.extend(problems)
        elif row.code.upper() in seen:
            errors.append(f"{row.label}: duplicate of row {seen[row.code.upper()]}")
        else:
            seen[row.code.upper()] = number
            rows.append(row)
    if errors:
        raise EventFileError(errors)
    return rows


def read_events_file(path: str | Path) -> list[EventRow]:
    """Parses and checks a CSV or YAML events file; raises EventFileError naming every bad row."""
    return check_rows(_raw_rows(Path(path)))


def _existing_events(session: Session, rows: list[EventRow]) -> dict[str, Event]:
    """The stored events the rows name, locked so no booking moves their seats while the import checks."""
    codes = [row.code.upper() for row in rows]
    query = select(Event).where(func.upper(Event.code).in_(codes)).with_for_update()
    return {event.code.upper(): event for event in session.scalars(query)}


def _capacity_errors(rows: list[EventRow], existing: dict[str, Event]) -> list[str]:
    errors = []
    for row in rows:
        event = existing.get(row.code.upper())
        if event is not None and row.capacity < event.seats_taken:
            errors.append(f"{row.label}: capacity {row.capacity} is below the {event.seats_taken} seats "
                          f"already taken")
    return errors


def _organizer_ids(session: Session, rows: list[EventRow]) -> dict[str, int]:
    """User ids by phone for every organizer named; missing users are created as organizers, attendees
    are promoted (other roles, e.g. admin, are kept)."""
    phones = sorted({phone for row in rows for phone in row.organizers})
    users = {u.phone: u for u in session.scalars(select(User).where(User.phone.in_(phones)))} if phones else {}
    for phone in phones:
        user = users.get(phone)
        if user is None:
            users[phone] = user = User(phone=phone, role=ORGANIZER_ROLE)
            session.add(user)
            log.info("organizer user created phone=%s", phone)
        elif user.role == "attendee":
            user.role = ORGANIZER_ROLE
            log.info("user promoted to organizer user_id=%s", user.id)
    session.flush()
    return {phone: user.id for phone, user in users.items()}


def _organizer_sets(session: Session, event_ids: list[int]) -> dict[int, set[int]]:
    links: dict[int, set[int]] = {event_id: set() for event_id in event_ids}
    if event_ids:
        query = select(EventOrganizer.event_id, EventOrganizer.user_id).where(EventOrganizer.event_id.in_(event_ids))
        for event_id, user_id in session.execute(query):
            links[event_id].add(user_id)
    return links


def _link_organizers(session: Session, event_id: int, current: set[int], wanted: set[int],
                     now: datetime) -> None:
    """Makes the event's organizer set exactly `wanted`."""
    removed = current - wanted
    if removed:
        session.execute(EventOrganizer.__table__.delete().where(EventOrganizer.event_id == event_id,
                                                                EventOrganizer.user_id.in_(removed)))
    for user_id in sorted(wanted - current):
        session.add(EventOrganizer(event_id=event_id, user_id=user_id, created_at=now))


def _differs(event: Event, values: dict) -> bool:
    stored = {name: getattr(event, name) for name in values}
    for name in ("starts_at", "ends_at"):
        stored[name] = as_utc(stored[name])
    return stored != values


def import_rows(session: Session, rows: list[EventRow]) -> ImportResult:
    """Upserts events by code (case-insensitive) in the caller's transaction; replaces each event's organizers.

    Raises EventFileError naming every row whose capacity is below the seats already taken; nothing is
    written then (the caller rolls back). Seats taken and registrations are never touched.
    """
    existing = _existing_events(session, rows)
    errors = _capacity_errors(rows, existing)
    if errors:
        raise EventFileError(errors)
    organizer_ids = _organizer_ids(session, rows)
    links = _organizer_sets(session, [event.id for event in existing.values()])
    created = updated = unchanged = 0
    now = utcnow()
    for row in rows:
        values, wanted = row.event_values(), {organizer_ids[phone] for phone in row.organizers}
        event = existing.get(row.code.upper())
        if event is None:
            # Timestamps are explicit: migration 0003's `now()` defaults do not exist in the embedded SQLite.
            event = Event(code=row.code, seats_taken=0, created_at=now, updated_at=now, **values)
            session.add(event)
            session.flush()
            created += 1
        elif _differs(event, values) or links[event.id] != wanted:
            for name, value in values.items():
                setattr(event, name, value)
            event.updated_at = now
            updated += 1
        else:
            unchanged += 1
            continue
        _link_organizers(session, event.id, links.get(event.id, set()), wanted, now)
    session.flush()
    return ImportResult(created, updated, unchanged)


def event_record(event: Event, organizers: list[str]) -> dict:
    """An event as one row of the file format: times in the event's local time with their offset."""
    record = {name: getattr(event, name) for name in COLUMNS if name != "organizers"}
    record.update(starts_at=local_iso(event.starts_at, event.timezone),
                  ends_at=local_iso(event.ends_at, event.timezone), organizers=organizers)
    return record


def local_iso(moment: datetime | None, zone: str) -> str | None:
    """A stored UTC time as ISO 8601 in the event's zone, with its offset: 2026-12-05T19:30:00+03:00."""
    return as_utc(moment).astimezone(ZoneInfo(zone)).isoformat() if moment else None


def _organizers_by_event(session: Session) -> dict[int, list[str]]:
    query = (select(EventOrganizer.event_id, User.phone).join(User, User.id == EventOrganizer.user_id)
             .order_by(User.phone))
    found: dict[int, list[str]] = {}
    for event_id, phone in session.execute(query):
        found.setdefault(event_id, []).append(phone)
    return found


def export_events(session: Session, path: str | Path) -> int:
    """Writes every event in the import format (YAML for .yaml/.yml, else CSV); returns the count."""
    organizers = _organizers_by_event(session)
    records = [event_record(e, organizers.get(e.id, []))
               for e in session.scalars(select(Event).order_by(Event.starts_at, Event.code))]
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        path.write_text(yaml.safe_dump({"events": records}, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return len(records)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for record in records:
            writer.writerow({name: _csv_cell(value) for name, value in record.items()})
    return len(records)


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ORGANIZER_SEPARATOR.join(value)
    return str(value)
