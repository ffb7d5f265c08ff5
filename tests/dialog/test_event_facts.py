"""Questions about named events answered from the events table without the LLM (the app has no LLM here), at
the routing seam: the development set tests/data/grounded_dev.csv over tests/data/grounded_events.yaml — English,
MSA, Yemeni/Gulf dialect, Arabizi and typos — plus the event in context, days, several matches and an event
that does not exist. scripts/bench_grounded.py runs the same set end to end and reports the share."""
from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from bot.core.db import db
from bot.events import files, views
from bot.events.demo import aden_today, event_file_row
from bot.i18n import catalog, localize
from models import Event
from tests.dialog.seam import Chat

DATA = Path(__file__).resolve().parents[1] / "data"
DEV = list(csv.DictReader((DATA / "grounded_dev.csv").open(encoding="utf-8")))


def import_events(app, path: Path = DATA / "grounded_events.yaml") -> None:
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    rows = files.check_rows([(n, event_file_row(e, spec["organizer"], aden_today()))
                             for n, e in enumerate(spec["events"], start=1)])
    with app.app_context(), db.session_scope() as session:
        files.import_rows(session, rows)


@pytest.fixture
def grounded(make_app):
    app = make_app(openai_api_key=None)  # no LLM: every fact must come from the table
    result = app.test_cli_runner().invoke(args=["faq", "import", str(DATA / "events_faq.csv")])  # as in production
    assert result.exit_code == 0, result.output
    import_events(app)
    return app


def event(app, code: str) -> Event:
    with app.app_context(), db.session_scope() as session:
        return session.scalars(select(Event).where(Event.code == code)).one()


def expected_fact(e: Event, aspect: str, language: str) -> str:
    """The piece of the answer that carries the fact, as the user reads it."""
    if aspect == "when":
        return localize.when(e.starts_at, language, e.timezone)
    if aspect == "price":
        if e.price_yer == 0:
            return catalog.say("fact_price_free", language, title=e.title(language))
        return localize.price(e.price_yer, language)
    if aspect == "where":
        return e.venue(language)
    if aspect == "seats":
        return views.seats_note(e, language)
    return localize.clock(e.ends_at, language, e.timezone)


@pytest.mark.parametrize("row", DEV, ids=[r["text"] for r in DEV])
def test_a_named_event_is_answered_with_its_own_fact(grounded, row):
    said = Chat(grounded, "+967713300001").say(row["text"])
    e = event(grounded, row["code"])
    assert said.route[0] == "facts", said.body
    assert said.stored.language == row["language"]
    assert expected_fact(e, row["aspect"], row["language"]) in said.body
    assert said.awaiting["kind"] == "event" and said.awaiting["event_id"] == e.id, "1 registers, 2 sends the pin"


@pytest.mark.parametrize("lang, first, follow_up, aspect", [
    ("en", "how much is the street food festival", "where is it?", "where"),
    ("ar", "بكم تذكرة مهرجان أكلات الشارع", "وين مكانه؟", "where"),
    ("en", "tell me about the robotics workshop", "how much?", "price"),
])
def test_the_event_in_context_answers_a_question_that_names_none(grounded, lang, first, follow_up, aspect):
    chat = Chat(grounded, "+967713300002")
    chat.say(first)
    said = chat.say(follow_up)
    e = event(grounded, "STREET-FOOD" if "food" in first or "أكلات" in first else "ROBOTICS")
    assert said.route[0] == "facts" and expected_fact(e, aspect, lang) in said.body


def test_the_next_step_registers_or_sends_the_pin(grounded):
    chat = Chat(grounded, "+967713300003")
    chat.say("where is the robotics workshop")
    pin = chat.say("2")
    assert pin.route[1] == "location_pin" and pin.reply.send["persistent_action"][0].startswith("geo:12.823600")
    chat.say("how much is the robotics workshop")
    seats = chat.say("1")
    assert seats.route[1] == "ask_seats"


@pytest.mark.parametrize("lang, text", [("en", "how much is the salsa night?"), ("ar", "متى حفلة الراب؟"),
                                        ("en", "when is the marathon")])
def test_an_event_that_does_not_exist_is_said_so_with_the_list(grounded, lang, text):
    said = Chat(grounded, "+967713300004").say(text)
    assert said.route[:2] == ("facts", "facts_no_such_event")
    assert said.stored.language == lang
    assert event(grounded, "SUFI-EVE").title(lang) in said.body
    assert said.awaiting["kind"] == "pick_facts"


def test_several_matching_events_get_a_numbered_choice_and_the_number_answers(make_app):
    app = make_app(openai_api_key=None)
    import_events(app)
    with app.app_context(), db.session_scope() as session:
        sufi = session.scalars(select(Event).where(Event.code == "SUFI-EVE")).one()
        session.add(Event(code="SUFI-2", title_en="Sufi Poetry Evening", title_ar="أمسية الشعر الصوفي",
                          starts_at=sufi.starts_at + timedelta(days=2), price_yer=1000, capacity=50,
                          status="published", timezone="Asia/Aden"))
    chat = Chat(app, "+967713300005")
    which = chat.say("when is the sufi evening?")
    assert which.route[:2] == ("facts", "facts_which")
    assert "Sufi Music Evening" in which.body and "Sufi Poetry Evening" in which.body
    picked = chat.say("2")
    assert picked.route[0] == "facts"
    assert localize.when(event(app, "SUFI-2").starts_at, "en", "Asia/Aden") in picked.body


@pytest.mark.parametrize("lang, text", [("en", "what's on {day}?"), ("ar", "ايش في فعاليات {day}")])
def test_whats_on_a_day_lists_that_days_events(grounded, lang, text):
    day = (aden_today() + timedelta(days=4))
    name = localize.DAYS_EN[day.weekday()] if lang == "en" else localize.DAYS_AR[day.weekday()]
    said = Chat(grounded, "+967713300006").say(text.format(day=name))
    assert said.route[:2] == ("facts", "facts_on_days")
    assert event(grounded, "SUFI-EVE").title(lang) in said.body
    assert event(grounded, "STREET-FOOD").title(lang) not in said.body
    assert said.awaiting["kind"] == "events"


@pytest.mark.parametrize("text", ["when do doors open?", "can I bring my kids?", "هل يوجد موقف سيارات"])
def test_general_questions_are_left_to_the_faq_and_intents(grounded, text):
    assert Chat(grounded, "+967713300007").say(text).route[0] != "facts"


@pytest.mark.parametrize("text, code, aspect, lang", [
    ("how much is the family day", "DEMO-FAMILY-DAY", "price", "en"),
    ("where is the oud concert?", "DEMO-OUD-JAZZ", "where", "en"),
    ("متى ورشة البايثون", "DEMO-PY-WORKSHOP", "when", "ar"),
])
def test_the_demo_datas_own_events_are_answered_from_the_table(make_app, text, code, aspect, lang):
    app = make_app(openai_api_key=None)
    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    said = Chat(app, "+967713300009").say(text)
    assert said.route[0] == "facts" and expected_fact(event(app, code), aspect, lang) in said.body
