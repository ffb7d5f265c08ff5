"""`flask events import|export|list`: event files (CSV and YAML) upserted by code, all or nothing, with every
bad row named; local times stored as UTC; organizers linked; exports that re-import as unchanged."""
from __future__ import annotations

import csv
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from bot.core.db import db as database
from bot.events import service as event_service
from bot.events.files import COLUMNS
from models import Event, EventOrganizer, User

CONTENT = ("code", "title_en", "title_ar", "description_en", "description_ar", "venue_en", "venue_ar", "address",
           "latitude", "longitude", "starts_at", "ends_at", "timezone", "price_yer", "capacity", "status",
           "category")


def record(code: str = "ADEN-JAZZ", **changes) -> dict:
    """A valid row in the file format, changed by keyword."""
    row = {"code": code, "title_en": "Oud & Jazz Night", "title_ar": "ليلة العود والجاز",
           "description_en": "Adeni oud meets jazz.", "description_ar": "العود العدني يلتقي بالجاز.",
           "venue_en": "Tawila Tanks, Crater", "venue_ar": "صهاريج الطويلة، كريتر", "address": "Crater, Aden",
           "latitude": "12.7752", "longitude": "45.0297", "starts_at": "2030-01-15T19:30", "ends_at": "",
           "timezone": "", "price_yer": "5,000", "capacity": "40", "status": "", "category": "music",
           "organizers": ""}
    row.update(changes)
    return row


def write_csv(path: Path, rows: list[dict], columns: list[str] = COLUMNS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_yaml(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def run(runner, *args):
    return runner.invoke(args=["events", *[str(a) for a in args]])


def stored(app) -> dict[str, dict]:
    """Every event's content and organizer phones, by code."""
    with app.app_context(), database.session_scope() as s:
        events = {e.code: {c: getattr(e, c) for c in CONTENT} | {"seats_taken": e.seats_taken, "id": e.id}
                  for e in s.scalars(select(Event))}
        for code, phone in s.execute(select(Event.code, User.phone)
                                     .join(EventOrganizer, EventOrganizer.event_id == Event.id)
                                     .join(User, User.id == EventOrganizer.user_id)):
            events[code].setdefault("organizers", set()).add(phone)
        return events


def test_csv_import_stores_values_and_local_time_as_utc(app, runner, tmp_path):
    path = write_csv(tmp_path / "events.csv", [
        record("ADEN-JAZZ"),
        record("py-workshop", price_yer="٣٠٠٠", capacity="٢٥", latitude="", longitude="", status="draft"),
        record("CLEANUP", price_yer="", starts_at="2030-01-20T06:30:00Z", ends_at="2030-01-20T10:00:00+03:00"),
        record("CAIRO-TALK", timezone="Africa/Cairo", price_yer="0", capacity="1,200"),
    ])
    result = run(runner, "import", path)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "4 created, 0 updated, 0 unchanged"
    events = stored(app)
    jazz = events["ADEN-JAZZ"]
    assert jazz["starts_at"] == datetime(2030, 1, 15, 16, 30, tzinfo=timezone.utc), "19:30 in Aden is 16:30 UTC"
    assert (jazz["timezone"], jazz["status"], jazz["price_yer"], jazz["capacity"]) == ("Asia/Aden", "published",
                                                                                       5000, 40)
    assert (jazz["latitude"], jazz["longitude"], jazz["ends_at"], jazz["seats_taken"]) == (12.7752, 45.0297, None, 0)
    assert jazz["title_ar"] == "ليلة العود والجاز" and jazz["venue_ar"] == "صهاريج الطويلة، كريتر"
    workshop = events["py-workshop"]
    assert (workshop["price_yer"], workshop["capacity"], workshop["status"]) == (3000, 25, "draft")
    assert workshop["latitude"] is None and workshop["longitude"] is None
    cleanup = events["CLEANUP"]
    assert cleanup["price_yer"] == 0
    assert cleanup["starts_at"] == datetime(2030, 1, 20, 6, 30, tzinfo=timezone.utc)
    assert cleanup["ends_at"] == datetime(2030, 1, 20, 7, 0, tzinfo=timezone.utc), "an explicit offset wins"
    cairo = events["CAIRO-TALK"]
    assert cairo["starts_at"] == datetime(2030, 1, 15, 17, 30, tzinfo=timezone.utc), "Cairo is UTC+2 in January"
    assert cairo["capacity"] == 1200


def test_yaml_list_and_events_mapping(app, runner, tmp_path):
    listed = record("YAML-ONE", price_yer=2000, capacity=30, latitude=12.76, longitude=44.99,
                    organizers=["+967711111111", "+967722222222"])
    result = run(runner, "import", write_yaml(tmp_path / "a.yaml", [listed]))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "1 created, 0 updated, 0 unchanged"
    result = run(runner, "import", write_yaml(tmp_path / "b.yml", {"events": [record("YAML-TWO"), listed]}))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "1 created, 0 updated, 1 unchanged"
    events = stored(app)
    assert events["YAML-ONE"]["organizers"] == {"+967711111111", "+967722222222"}
    assert (events["YAML-ONE"]["price_yer"], events["YAML-ONE"]["latitude"]) == (2000, 12.76)
    assert events["YAML-TWO"]["price_yer"] == 5000


def test_reimport_is_idempotent_and_counts_changes(app, runner, tmp_path):
    rows = [record("A-1"), record("A-2"), record("A-3")]
    path = write_csv(tmp_path / "events.csv", rows)
    assert run(runner, "import", path).stdout.strip() == "3 created, 0 updated, 0 unchanged"
    before = stored(app)
    assert run(runner, "import", path).stdout.strip() == "0 created, 0 updated, 3 unchanged"
    assert stored(app) == before

    changed = [record("a-1", title_en="Oud & Jazz Night — second set"), rows[1], rows[2], record("A-4")]
    result = run(runner, "import", write_csv(tmp_path / "changed.csv", changed))
    assert result.stdout.strip() == "1 created, 1 updated, 2 unchanged", result.output
    after = stored(app)
    assert set(after) == {"A-1", "A-2", "A-3", "A-4"}, "codes match case-insensitively; the stored spelling stays"
    assert after["A-1"]["title_en"] == "Oud & Jazz Night — second set"
    assert after["A-1"]["id"] == before["A-1"]["id"]


def test_organizers_are_created_promoted_and_replaced(app, runner, session, tmp_path):
    session.add_all([User(phone="+967722222222", role="attendee"), User(phone="+967733333333", role="admin")])
    session.commit()
    organizers = "+967 711 111 111 | 00967722222222 | ٩٦٧٧٣٣٣٣٣٣٣٣"
    result = run(runner, "import", write_csv(tmp_path / "e.csv", [record("ORG", organizers=organizers)]))
    assert result.exit_code == 0, result.output
    assert stored(app)["ORG"]["organizers"] == {"+967711111111", "+967722222222", "+967733333333"}
    session.expire_all()
    roles = dict(session.execute(select(User.phone, User.role)).all())
    assert roles == {"+967711111111": "organizer", "+967722222222": "organizer", "+967733333333": "admin"}

    result = run(runner, "import", write_csv(tmp_path / "f.csv", [record("ORG", organizers="+967744444444")]))
    assert result.stdout.strip() == "0 created, 1 updated, 0 unchanged", "a new organizer set is a change"
    assert stored(app)["ORG"]["organizers"] == {"+967744444444"}
    assert session.scalar(select(func.count()).select_from(EventOrganizer)) == 1


BAD_VALUES = [
    ({"code": "has space"}, "row 2 (code 'has space'): code is required and must be 1-40 letters, digits, '-' or '_'"),
    ({"code": ""}, "row 2: code is required and must be 1-40 letters"),
    ({"code": "X" * 41}, "code is required and must be 1-40 letters"),
    ({"title_en": ""}, "row 2 (code 'BAD'): title_en is required"),
    ({"title_ar": "  "}, "row 2 (code 'BAD'): title_ar is required"),
    ({"title_en": "x" * 201}, "row 2 (code 'BAD'): title_en must be at most 200 characters"),
    ({"starts_at": ""}, "row 2 (code 'BAD'): starts_at must be an ISO 8601 date and time"),
    ({"starts_at": "next friday"}, "row 2 (code 'BAD'): starts_at must be an ISO 8601 date and time"),
    ({"starts_at": "2030-01-15"}, "row 2 (code 'BAD'): starts_at needs a time as well as a date"),
    ({"ends_at": "2030-01-15T18:00"}, "row 2 (code 'BAD'): ends_at is before starts_at"),
    ({"timezone": "Aden/Crater"}, "row 2 (code 'BAD'): timezone 'Aden/Crater' is not an IANA time zone"),
    ({"price_yer": "-500"}, "row 2 (code 'BAD'): price_yer must be a whole number of rials ≥ 0"),
    ({"price_yer": "5000.50"}, "row 2 (code 'BAD'): price_yer must be a whole number of rials ≥ 0"),
    ({"price_yer": "50,00"}, "row 2 (code 'BAD'): price_yer must be a whole number of rials ≥ 0"),
    ({"capacity": "0"}, "row 2 (code 'BAD'): capacity must be a whole number > 0"),
    ({"capacity": ""}, "row 2 (code 'BAD'): capacity must be a whole number > 0"),
    ({"capacity": "ten"}, "row 2 (code 'BAD'): capacity must be a whole number > 0"),
    ({"status": "open"}, "row 2 (code 'BAD'): status must be one of draft, published, cancelled"),
    ({"latitude": "95"}, "row 2 (code 'BAD'): latitude must be a number between -90 and 90"),
    ({"longitude": "east"}, "row 2 (code 'BAD'): longitude must be a number between -180 and 180"),
    ({"longitude": ""}, "row 2 (code 'BAD'): latitude and longitude go together: give both or neither"),
    ({"organizers": "+967711111111 | call Ali"}, "row 2 (code 'BAD'): organizers: 'call Ali' is not a phone"),
]


@pytest.mark.parametrize("changes, message", BAD_VALUES, ids=[m.split(": ", 1)[-1][:40] for _, m in BAD_VALUES])
def test_bad_value_names_its_row_and_writes_nothing(app, runner, tmp_path, changes, message):
    path = write_csv(tmp_path / "bad.csv", [record(**{"code": "BAD", **changes}), record("GOOD")])
    result = run(runner, "import", path)
    assert result.exit_code == 1
    assert message in result.stderr, result.stderr
    assert "GOOD" not in result.stderr
    assert stored(app) == {}, "nothing is written when any row is bad"


def test_every_bad_row_is_named_and_updates_are_not_applied(app, runner, tmp_path):
    assert run(runner, "import", write_csv(tmp_path / "a.csv", [record("KEEP")])).exit_code == 0
    before = stored(app)
    rows = [record("KEEP", title_en="Changed"), record("B-1", capacity="-3"), record("OK-2"),
            record("B-2", price_yer="free", status="maybe"), record("keep")]
    result = run(runner, "import", write_csv(tmp_path / "b.csv", rows))
    assert result.exit_code == 1
    errors = result.stderr.strip().splitlines()
    assert errors == ["error: row 3 (code 'B-1'): capacity must be a whole number > 0",
                      "error: row 5 (code 'B-2'): price_yer must be a whole number of rials ≥ 0 (empty or 0 = free)",
                      "error: row 5 (code 'B-2'): status must be one of draft, published, cancelled",
                      "error: row 6 (code 'keep'): duplicate of row 2"]
    assert stored(app) == before


def test_bad_header_and_bad_yaml_are_refused(app, runner, tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("code,title_en,title_ar,starts_at,capcity\nX,a,b,2030-01-01T10:00,5\n", encoding="utf-8")
    result = run(runner, "import", path)
    assert result.exit_code == 1
    assert "header lacks capacity; has unknown column(s) capcity" in result.stderr
    result = run(runner, "import", write_yaml(tmp_path / "x.yaml", {"event": "not a list"}))
    assert result.exit_code == 1 and "expected a list of events" in result.stderr
    result = run(runner, "import", write_yaml(tmp_path / "y.yaml", [record("Y", seats=5)]))
    assert result.exit_code == 1 and "row 1 (code 'Y'): unknown column(s) seats" in result.stderr
    assert stored(app) == {}


def _take_seats(app, code: str, seats_each: list[int]) -> None:
    with app.app_context(), database.session_scope() as s:
        event = event_service.event_by_code(s, code)
        for n, seats in enumerate(seats_each):
            user = User(phone=f"+96771000{n:04d}")
            s.add(user)
            s.flush()
            assert event_service.register(s, user.id, event.id, seats, max_seats=5).status == "created"


def test_capacity_may_not_drop_below_seats_taken(app, runner, tmp_path):
    assert run(runner, "import", write_csv(tmp_path / "a.csv", [record("FULLISH", capacity="10"),
                                                                 record("OTHER")])).exit_code == 0
    _take_seats(app, "FULLISH", [2, 2])
    rows = [record("OTHER", title_en="Changed"), record("fullish", capacity="3")]
    result = run(runner, "import", write_csv(tmp_path / "b.csv", rows))
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: row 3 (code 'fullish'): capacity 3 is below the 4 seats already taken"
    events = stored(app)
    assert (events["FULLISH"]["capacity"], events["FULLISH"]["seats_taken"]) == (10, 4)
    assert events["OTHER"]["title_en"] == "Oud & Jazz Night", "nothing is written"

    result = run(runner, "import", write_csv(tmp_path / "c.csv", [record("FULLISH", capacity="4")]))
    assert result.stdout.strip() == "0 created, 1 updated, 0 unchanged", "exactly the seats taken is allowed"
    assert stored(app)["FULLISH"]["seats_taken"] == 4, "an import never touches seats taken"


@pytest.mark.parametrize("suffix", ["csv", "yaml"])
def test_export_round_trips_as_unchanged(app, runner, tmp_path, suffix):
    rows = [record("RT-1", organizers="+967711111111 | +967722222222", ends_at="2030-01-15T23:00"),
            record("RT-2", timezone="Europe/London", latitude="", longitude="", price_yer="", status="cancelled",
                   description_en="Line one\nline two, with \"quotes\"", description_ar="", category=""),
            record("RT-3", starts_at="2030-06-01T08:15:30+05:30", capacity="٧")]
    assert run(runner, "import", write_csv(tmp_path / "in.csv", rows)).exit_code == 0
    before = stored(app)
    exported = tmp_path / f"out.{suffix}"
    result = run(runner, "export", exported)
    assert result.stdout.strip() == f"exported 3 events to {exported}"
    assert run(runner, "import", exported).stdout.strip() == "0 created, 0 updated, 3 unchanged"
    assert stored(app) == before
    text = exported.read_text(encoding="utf-8")
    assert "2030-01-15T19:30:00+03:00" in text, "times are written in the event's local time with the offset"
    assert "ليلة العود والجاز" in text

    with app.app_context(), database.session_scope() as s:
        s.execute(Event.__table__.delete())
    assert run(runner, "import", exported).stdout.strip() == "3 created, 0 updated, 0 unchanged"
    after = stored(app)
    assert {c: {k: v for k, v in e.items() if k != "id"} for c, e in after.items()} == \
           {c: {k: v for k, v in e.items() if k != "id"} for c, e in before.items()}


def test_list_shows_local_start_price_and_seats(app, runner, tmp_path):
    assert run(runner, "list").stdout.strip() == "no events"
    rows = [record("LIST-JAZZ", capacity="12"), record("LIST-FREE", price_yer="0", starts_at="2030-01-10T18:00")]
    assert run(runner, "import", write_csv(tmp_path / "a.csv", rows)).exit_code == 0
    _take_seats(app, "LIST-JAZZ", [2, 1])
    lines = run(runner, "list").stdout.strip().splitlines()
    assert lines[0].split() == ["CODE", "STARTS", "(LOCAL)", "PRICE", "SEATS", "STATUS", "TITLE"]
    assert lines[1].split()[:7] == ["LIST-FREE", "2030-01-10", "18:00", "+03", "free", "0/40", "published"]
    assert lines[2].split()[:8] == ["LIST-JAZZ", "2030-01-15", "19:30", "+03", "5,000", "YER", "3/12", "published"]
