"""Human handoff, in both languages: one acknowledgement, then silence in that conversation (every turn still
stored) until the team closes it, the attendee asks for the bot back, or it goes idle; the team is told on
WhatsApp and answers with /reply through the bot's number; /close gives the conversation back with a note."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.core.db import db
from bot.i18n import catalog
from bot.llm.history import HUMAN_BEGAN, HUMAN_ENDED
from models import EventOrganizer, Handoff, Message, User
from models.base import utcnow
from tests.conftest import run_jobs, send
from tests.dialog.journey import seed_ticket, upcoming_events
from tests.dialog.seam import Chat

ATTENDEE, ORGANIZER = "+967712600001", "+967712600002"


@pytest.fixture
def team(make_app):
    """Events; an organizer of JAZZ who wrote to the bot today (inside WhatsApp's window); an attendee of JAZZ."""
    app = make_app(openai_api_key=None)
    with app.app_context(), db.session_scope() as session:
        session.add_all(upcoming_events(utcnow()))
    Chat(app, ORGANIZER, profile="Huda").say("hi")
    Chat(app, ATTENDEE, profile="Sara").say("hi")
    with app.app_context(), db.session_scope() as session:
        organizer = session.scalars(select(User).where(User.phone == ORGANIZER)).one()
        organizer.role = "organizer"
        session.add(EventOrganizer(event_id=1, user_id=organizer.id, created_at=utcnow()))
    seed_ticket(app, ATTENDEE, "JAZZ", 1, ticket_code="HND111")
    return app


def open_handoffs(app) -> list[Handoff]:
    with app.app_context(), db.session_scope() as session:
        return list(session.scalars(select(Handoff).where(Handoff.status == "open")))


@pytest.mark.parametrize("ask, lang", [("I want to talk to a person", "en"), ("ابغى اكلم موظف", "ar")])
def test_one_acknowledgement_then_silence_until_the_attendee_asks_for_the_bot(team, ask, lang):
    attendee = Chat(team, ATTENDEE, profile="Sara")
    acked = attendee.say(ask)
    assert acked.body == catalog.say("human_requested", lang)
    [opened] = open_handoffs(team)
    for text in ("hello?", "is anyone there", "how much are tickets"):
        quiet = attendee.say(text)
        assert quiet.stored is None and quiet.route[0] == "handoff", "the bot does not answer over a person"
        assert quiet.inbound.status == "processed" and quiet.inbound.body == text, "the turn is stored"
    back = attendee.say("bot" if lang == "en" else "البوت")
    assert back.route[:2] == ("handoff", "closed") and open_handoffs(team) == []
    assert attendee.say("menu").route[0] == "intent", "the bot answers again"


def test_the_team_lists_closes_and_the_bot_answers_again(team):
    attendee, organizer = Chat(team, ATTENDEE, profile="Sara"), Chat(team, ORGANIZER, profile="Huda")
    attendee.say("I want to talk to a person")
    [opened] = open_handoffs(team)
    listed = organizer.say("/handoffs")
    assert f"#{opened.id}" in listed.body and "Sara" in listed.body
    relayed = organizer.say(f"/reply {opened.id} Hi Sara, how can we help?")
    assert relayed.route[:2] == ("command", "reply") and relayed.reply.notify[0].bot_initiated is False
    closed = organizer.say(f"/اغلاق {opened.id}")
    assert closed.route[:2] == ("command", "close") and open_handoffs(team) == []
    assert attendee.say("menu").route[0] == "intent"


def test_stats_count_the_handoffs_waiting_for_this_organizer(team):
    organizer = Chat(team, ORGANIZER, profile="Huda")
    assert "Waiting for a person: 0" in organizer.say("/stats").body
    Chat(team, ATTENDEE, profile="Sara").say("I want to talk to a person")
    assert "Waiting for a person: 1" in organizer.say("/stats").body
    assert "بانتظار موظف: ١" in organizer.say("/احصائيات").body


def test_an_organizer_of_other_events_cannot_see_or_answer_it(team):
    Chat(team, ATTENDEE, profile="Sara").say("I want to talk to a person")
    [opened] = open_handoffs(team)
    stranger = Chat(team, "+967712600003", profile="Other")
    stranger.say("hi")
    with team.app_context(), db.session_scope() as session:
        session.execute(update(User).where(User.phone == "+967712600003").values(role="organizer"))
    assert "#" not in stranger.say("/handoffs").body
    assert stranger.say(f"/reply {opened.id} hello").route[:2] == ("command", "handoff")


def test_a_handoff_nobody_answered_returns_to_the_bot_after_the_idle_hours(team):
    attendee = Chat(team, ATTENDEE, profile="Sara")
    attendee.say("I want to talk to a person")
    with team.app_context(), db.session_scope() as session:
        session.execute(update(Handoff).values(opened_at=utcnow() - timedelta(hours=13)))
    answered = attendee.say("menu")
    assert answered.route[0] == "intent" and open_handoffs(team) == []


def test_end_to_end_the_team_is_told_and_the_reply_is_relayed_through_the_bots_number(make_app, twilio):
    app = make_app(openai_api_key=None)
    with app.app_context(), db.session_scope() as session:
        session.add_all(upcoming_events(utcnow()))
    client = app.test_client()
    send(client, ORGANIZER, "hi", profile="Huda")
    send(client, ATTENDEE, "hi", profile="Sara")
    run_jobs(app)
    with app.app_context(), db.session_scope() as session:
        organizer = session.scalars(select(User).where(User.phone == ORGANIZER)).one()
        organizer.role = "admin"  # the attendee has no events: the admins are told
    send(client, ATTENDEE, "I want to talk to a person", profile="Sara")
    run_jobs(app)
    [told] = [m for m in twilio.sent_to(ORGANIZER) if "🙋" in m["body"]]
    assert "Sara" in told["body"] and "I want to talk to a person" in told["body"]
    with app.app_context(), db.session_scope() as session:
        handoff_id = session.scalars(select(Handoff.id)).one()
    before = len(twilio.sent_to(ATTENDEE))
    send(client, ATTENDEE, "hello? anyone", profile="Sara")
    run_jobs(app)
    assert len(twilio.sent_to(ATTENDEE)) == before, "silence while a person owns the conversation"
    send(client, ORGANIZER, f"/reply {handoff_id} Hi Sara, I'm Huda from the team", profile="Huda")
    run_jobs(app)
    relayed = twilio.sent_to(ATTENDEE)[-1]
    assert relayed["body"] == catalog.say("handoff_relay", "en", text="Hi Sara, I'm Huda from the team")
    with app.app_context(), db.session_scope() as session:
        stored = session.scalars(select(Message).where(Message.route == "agent")).one()
        assert stored.meta["author_id"] == organizer.id and stored.direction == "outbound"


def test_the_llm_history_marks_where_a_person_took_over_and_gave_the_conversation_back(make_app, twilio, llm):
    app = make_app()
    client = app.test_client()
    send(client, ORGANIZER, "hi", profile="Huda")
    send(client, ATTENDEE, "I want to talk to a person", profile="Sara")
    run_jobs(app)
    with app.app_context(), db.session_scope() as session:
        session.scalars(select(User).where(User.phone == ORGANIZER)).one().role = "admin"
        handoff_id = session.scalars(select(Handoff.id)).one()
    send(client, ATTENDEE, "hello? anyone", profile="Sara")
    send(client, ORGANIZER, f"/reply {handoff_id} Hi Sara, the doors open at 7", profile="Huda")
    run_jobs(app)
    send(client, ORGANIZER, f"/close {handoff_id}", profile="Huda")
    run_jobs(app)
    question = "what do astronauts eat for breakfast in orbit"
    send(client, ATTENDEE, question, profile="Sara")
    run_jobs(app)
    messages = llm.requests[-1]["body"]["messages"]
    assert messages[-1] == {"role": "user", "content": question}
    turns = [(m["role"], m["content"]) for m in messages[1:-1]]
    began, ended = turns.index(("system", HUMAN_BEGAN)), turns.index(("system", HUMAN_ENDED))
    inside = turns[began + 1:ended]
    assert ("user", "hello? anyone") in inside
    assert any(role == "assistant" and "the doors open at 7" in text for role, text in inside)
    assert all("the doors open at 7" not in text for _, text in turns[:began] + turns[ended + 1:])
    assert turns[began - 1][0] == "assistant", "the bot's acknowledgement comes before the person's stretch"
