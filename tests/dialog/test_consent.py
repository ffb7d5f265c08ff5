"""Opt-out in both languages, at the routing seam and end to end: STOP / إيقاف opt out of messages the bot starts
with one confirmation that says how to come back; START / اشتراك opt back in; "cancel" alone stays the ticket
word; opted-out users still get answers; reminders skip them; a send failing with 21610 opts the user out."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.campaigns.reminders import due_registrations
from bot.core.db import db
from bot.i18n import catalog
from models import User
from models.base import utcnow
from tests.conftest import run_jobs, send
from tests.dialog.journey import seed_ticket
from tests.dialog.seam import Chat


def user(app, phone: str) -> User:
    with app.app_context(), db.session_scope() as session:
        return session.scalars(select(User).where(User.phone == phone)).one()


@pytest.mark.parametrize("word, lang", [("STOP", "en"), ("stop", "en"), ("Stop!", "en"), ("UNSUBSCRIBE", "en"),
                                        ("إيقاف", "ar"), ("ايقاف", "ar"), ("إلغاء الاشتراك", "ar")])
def test_stop_words_opt_out_with_one_confirmation_in_the_users_language(faq_bot, word, lang):
    said = Chat(faq_bot, "+967711200001").say(word)
    assert said.route[:2] == ("consent", "opt_out")
    assert said.body == catalog.say("opted_out", lang)
    assert user(faq_bot, "+967711200001").opted_out_at is not None


@pytest.mark.parametrize("stop, start", [("STOP", "START"), ("إيقاف", "اشتراك"), ("stop", "unstop")])
def test_start_words_opt_back_in_and_the_history_is_exported(faq_bot, stop, start):
    chat = Chat(faq_bot, "+967711200002")
    chat.say(stop)
    back = chat.say(start)
    assert back.route[:2] == ("consent", "opt_in") and user(faq_bot, "+967711200002").opted_out_at is None
    exported = json.loads(faq_bot.test_cli_runner().invoke(args=["users", "export", "+967711200002"]).output)
    assert [e["action"] for e in exported["consent"]] == ["opt_out", "opt_in"]
    assert exported["user"]["opted_out_at"] is None


@pytest.mark.parametrize("text", ["cancel", "الغاء"])
def test_cancel_alone_stays_the_ticket_word(faq_bot, text):
    assert Chat(faq_bot, "+967711200003").say(text).route[0] != "consent"


def test_an_opted_out_user_still_gets_answers(faq_bot):
    chat = Chat(faq_bot, "+967711200004")
    chat.say("STOP")
    assert chat.say("How much do tickets cost?").route[0] == "faq"


def test_reminders_skip_opted_out_users(events_bot):
    chat = Chat(events_bot, "+967711200005")
    chat.say("hi")
    seed_ticket(events_bot, "+967711200005", "JAZZ", 1, ticket_code="OPT111")
    with events_bot.app_context(), db.session_scope() as session:
        due = due_registrations(session, utcnow(), timedelta(days=365))
    assert due, "registered and opted in: due"
    chat.say("STOP")
    with events_bot.app_context(), db.session_scope() as session:
        assert due_registrations(session, utcnow(), timedelta(days=365)) == []


def test_a_send_failing_with_21610_opts_the_user_out(app, client, twilio):
    phone = "+967711200006"
    twilio.rules[f"whatsapp:{phone}"] = {"status": 400, "code": 21610}
    send(client, phone, "hello")
    run_jobs(app)
    assert user(app, phone).opted_out_at is not None
    exported = json.loads(app.test_cli_runner().invoke(args=["users", "export", phone]).output)
    assert exported["consent"][0]["source"] == "twilio_21610"
