"""The organizer console at the routing seam, in English and Arabic: who may run which command on which event
(attendee / organizer of this event / organizer of another event / admin), door check-in that is idempotent
even for two organizers at once, the audit log, and `users set-role` / `audit list`."""
from __future__ import annotations

import csv
import io
import json
import threading

import pytest
from sqlalchemy import select

from bot.core.db import db
from bot.core.phones import mask
from bot.core.signing import sign
from bot.events.roster import ROSTER_PURPOSE
from bot.i18n import catalog
from models import AuditEntry, Event, EventOrganizer, Registration, User
from models.base import utcnow
from tests.conftest import PUBLIC_BASE_URL
from tests.dialog.journey import seed_ticket, upcoming_events
from tests.dialog.seam import Chat

ATTENDEE, OWNER, OTHER, ADMIN = "+967718800001", "+967718800002", "+967718800003", "+967718800004"


@pytest.fixture
def console(make_app):
    """Events; an organizer of JAZZ, an organizer of OUD only, an admin; an attendee with a JAZZ ticket."""
    app = make_app(openai_api_key=None)
    with app.app_context(), db.session_scope() as session:
        session.add_all(upcoming_events(utcnow()))
        for phone, role in ((ATTENDEE, "attendee"), (OWNER, "organizer"), (OTHER, "organizer"), (ADMIN, "admin")):
            session.add(User(phone=phone, role=role, display_name=f"User {phone[-1]}"))
    with app.app_context(), db.session_scope() as session:
        user = {u.phone: u.id for u in session.scalars(select(User))}
        event = {e.code: e.id for e in session.scalars(select(Event))}
        session.add_all([EventOrganizer(event_id=event["JAZZ"], user_id=user[OWNER], created_at=utcnow()),
                         EventOrganizer(event_id=event["OUD"], user_id=user[OTHER], created_at=utcnow())])
    seed_ticket(app, ATTENDEE, "JAZZ", 2, ticket_code="JZ4242")
    return app


COMMANDS = ["/help", "/events", "/stats JAZZ", "/attendees JAZZ", "/checkin JZ4242"]


@pytest.mark.parametrize("command", COMMANDS)
def test_an_attendee_gets_one_polite_refusal_that_reveals_nothing(console, command):
    said = Chat(console, ATTENDEE, profile=None).say(command)
    assert said.route[:2] == ("command", "refused")
    assert said.body == catalog.say("console_refused", "en")
    assert "JAZZ" not in said.body and "Jazz" not in said.body


@pytest.mark.parametrize("command, expected", [
    ("/events", "JAZZ"), ("/stats JAZZ", "Jazz Night"), ("/attendees JAZZ", "JZ4242"), ("/help", "/checkin")])
def test_the_organizer_of_the_event_runs_every_command(console, command, expected):
    said = Chat(console, OWNER, profile=None).say(command)
    assert said.route[0] == "command" and expected in said.body


@pytest.mark.parametrize("command", ["/stats JAZZ", "/attendees JAZZ"])
def test_an_organizer_of_another_event_cannot_see_this_one(console, command):
    said = Chat(console, OTHER, profile=None).say(command)
    assert said.route[0] == "command" and "JZ4242" not in said.body and "Jazz Night" not in said.body
    assert said.body == catalog.say("console_no_such_event", "en", code="JAZZ")


def test_an_organizer_of_another_event_cannot_check_its_tickets_in(console):
    said = Chat(console, OTHER, profile=None).say("/checkin JZ4242")
    assert said.route[:2] == ("command", "checkin") and "not for one of your events" in said.body
    assert ticket(console).status == "registered"


def test_the_admin_acts_on_every_event(console):
    admin = Chat(console, ADMIN, profile=None)
    assert "JAZZ" in admin.say("/events").body and "OUD" in admin.say("/events").body
    assert "JZ4242" in admin.say("/attendees jazz").body


@pytest.mark.parametrize("command, lang", [("/checkin jz4242", "en"), ("/دخول JZ4242", "ar")])
def test_check_in_is_idempotent_and_says_who_did_it(console, command, lang):
    organizer = Chat(console, OWNER, profile=None)
    if lang == "ar":
        organizer.say("مرحبا")  # the organizer writes Arabic
    first = organizer.say(command)
    assert first.body.startswith("✅") and "User 1" in first.body
    again = organizer.say(command)
    assert again.body.startswith("⚠️") and "User 2" in again.body, "already checked in, by whom"
    checked = ticket(console)
    assert checked.status == "checked_in" and checked.checked_in_at is not None


def test_arabic_indic_digits_and_unknown_or_cancelled_tickets(console):
    organizer = Chat(console, OWNER, profile=None)
    assert "No ticket" in organizer.say("/checkin ZZ٤٢٤٢").body
    with console.app_context(), db.session_scope() as session:
        session.execute(Registration.__table__.update().values(status="cancelled"))
    assert organizer.say("/checkin JZ4242").body.startswith("⛔")


def test_two_organizers_checking_one_ticket_in_at_once_check_it_in_once(console):
    with console.app_context(), db.session_scope() as session:
        scanners = set(session.scalars(select(User.id).where(User.phone.in_((OWNER, ADMIN)))))
    results, barrier = [], threading.Barrier(2)

    def scan(phone: str) -> None:
        barrier.wait()
        results.append(Chat(console, phone, profile=None).say("/checkin JZ4242").body)

    threads = [threading.Thread(target=scan, args=(phone,)) for phone in (OWNER, ADMIN)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(body[0] for body in results) == ["⚠", "✅"], results
    assert ticket(console).checked_in_by in scanners


def test_a_command_never_reaches_the_faq_or_the_llm(console):
    said = Chat(console, OWNER, profile=None).say("/how much are tickets")
    assert said.route[:2] == ("command", "unknown")


def test_every_command_is_audited_and_audit_list_prints_it(console):
    Chat(console, OWNER, profile=None).say("/stats JAZZ")
    Chat(console, ATTENDEE, profile=None).say("/events")
    with console.app_context(), db.session_scope() as session:
        rows = [(a.phone, a.command, a.arguments, a.result) for a in session.scalars(select(AuditEntry))]
    assert rows == [(OWNER, "stats", "JAZZ", "ok"), (ATTENDEE, "events", None, "refused")]
    printed = console.test_cli_runner().invoke(args=["audit", "list", "--json"])
    assert [json.loads(line)["command"] for line in printed.output.splitlines()] == ["stats", "events"]


def test_users_set_role_prints_the_change_and_refuses_unknown_phones(console):
    runner = console.test_cli_runner()
    done = runner.invoke(args=["users", "set-role", ATTENDEE, "organizer"])
    assert done.exit_code == 0 and done.output.strip() == f"{ATTENDEE}: attendee -> organizer"
    assert runner.invoke(args=["users", "set-role", "+967700999999", "admin"]).exit_code == 1


def test_phones_are_masked_but_the_last_three_digits(console):
    assert mask("+967712345678") == "+967••••••678"
    assert "+967" in Chat(console, OWNER, profile=None).say("/attendees JAZZ").body


def ticket(app) -> Registration:
    with app.app_context(), db.session_scope() as session:
        return session.scalars(select(Registration).where(Registration.ticket_code == "JZ4242")).one()


def roster_url(said) -> str:
    [url] = [word for word in said.body.split() if word.startswith(PUBLIC_BASE_URL + "/attendees/")]
    return url.removeprefix(PUBLIC_BASE_URL)


@pytest.mark.parametrize("command", ["/attendees JAZZ", "/الحضور JAZZ"])
def test_the_attendee_list_comes_whole_as_csv_behind_a_signed_link(console, command):
    with console.app_context(), db.session_scope() as session:
        session.add(User(phone="+967718800005", display_name="=HYPERLINK(\"http://evil\")"))
    seed_ticket(console, "+967718800005", "JAZZ", 1, ticket_code="JZ5151")
    said = Chat(console, OWNER, profile=None).say(command)
    response = console.test_client().get(roster_url(said))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attendees-JAZZ.csv" in response.headers["Content-Disposition"]
    text = response.data.decode("utf-8")
    assert text.startswith("\ufeff"), "Excel reads the Arabic names as UTF-8"
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0][:5] == ["n", "name", "phone", "seats", "ticket_code"]
    assert [r[4] for r in rows[1:]] == ["JZ4242", "JZ5151"]
    assert rows[1][2] == mask(ATTENDEE) and ATTENDEE not in text
    assert rows[2][1].startswith("'="), "a name is never run as a spreadsheet formula"


def test_the_csv_link_is_refused_when_forged_or_when_the_organizer_lost_the_role(console):
    said = Chat(console, OWNER, profile=None).say("/attendees JAZZ")
    path = roster_url(said)
    client = console.test_client()
    assert client.get(path).status_code == 200
    assert client.get(path.replace(".csv", "x.csv")).status_code == 404
    forged = sign("another-secret", ROSTER_PURPOSE, "1:1")
    assert client.get(f"/attendees/{forged}.csv").status_code == 404
    assert console.test_cli_runner().invoke(args=["users", "set-role", OWNER, "attendee"]).exit_code == 0
    assert client.get(path).status_code == 404, "a revoked role closes the links already sent"
