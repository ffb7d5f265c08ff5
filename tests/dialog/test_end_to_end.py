"""The few journeys kept on the full path — a signed webhook, a real RQ worker (`run_jobs`), the fake Twilio —
to show that the routing seam (tests/dialog/seam.py) and production agree: a booking in each language and a
location pin run the same scripts as test_booking.py and test_menu_and_browse.py, judged by the body and the
persistent action the fake Twilio received; an FAQ and an LLM answer are compared field by field with the same
questions asked at the seam."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from bot.core.db import db as database
from models import Conversation, Message
from tests.conftest import run_jobs, send
from tests.dialog.answers import answer, faq_row
from tests.dialog.journey import book_by_number, event, open_location_pin
from tests.dialog.seam import Chat


@dataclass
class Delivered:
    """What one turn did, read as the seam's `Said` reads it, with what the fake Twilio received."""

    inbound: Message
    stored: Message  # the reply's first stored part
    awaiting: dict | None
    sent: dict  # the fake Twilio's record of the first part (body, persistent_action...)

    @property
    def body(self) -> str:
        return self.sent["body"]

    @property
    def route(self) -> tuple:
        return self.stored.route, self.stored.route_key, self.stored.action_taken


class WebhookUser:
    """A user whose every turn is a signed webhook, answered by a real RQ worker and sent to the fake Twilio."""

    def __init__(self, app, twilio, phone: str) -> None:
        self.app, self.twilio, self.phone = app, twilio, phone

    def say(self, text: str) -> Delivered:
        response, sid = send(self.app.test_client(), self.phone, text)
        assert response.status_code == 200
        run_jobs(self.app)
        with self.app.app_context(), database.session_scope() as s:
            inbound = s.scalars(select(Message).where(Message.twilio_sid == sid)).one()
            reply = s.scalars(select(Message).where(Message.reply_to_id == inbound.id)
                              .order_by(Message.part_index)).first()
            awaiting = (s.get(Conversation, inbound.conversation_id).context or {}).get("awaiting")
        assert inbound.status == "processed", inbound.error_message
        assert reply is not None, f"no reply to {text!r}"
        sent = [m for m in self.twilio.sent_to(self.phone) if m["sid"] == reply.twilio_sid]
        assert len(sent) == 1, "the stored reply was sent exactly once"
        assert sent[0]["body"] == reply.body, "what is sent is what is stored"
        return Delivered(inbound, reply, awaiting, sent[0])

    def walk(self, *texts: str) -> Delivered:
        turn = None
        for text in texts:
            turn = self.say(text)
        return turn


@pytest.mark.parametrize("lang, seats_word", [("en", "2"), ("ar", "٢")], ids=["en", "ar"])
def test_booking_by_number_end_to_end(events_bot, twilio, lang, seats_word):
    book_by_number(WebhookUser(events_bot, twilio, "+967711100010"), events_bot, lang, seats_word)


def test_location_pin_reaches_twilio_as_a_persistent_action(events_bot, twilio):
    turn = open_location_pin(WebhookUser(events_bot, twilio, "+967711100007"), events_bot, "ar")
    assert turn.sent["persistent_action"] == f"geo:12.779700,45.036500|{event(events_bot, 'JAZZ').venue('ar')}"


def _answered(turn) -> tuple:
    reply = turn.stored
    return reply.route, reply.route_key, reply.language, reply.confidence, reply.model, turn.body


def test_faq_and_llm_answers_end_to_end_match_the_seam(faq_bot, twilio, llm):
    user = WebhookUser(faq_bot, twilio, "+967711000010")
    faq = user.say("وين أوقف سيارتي؟")
    assert (faq.stored.route, faq.stored.route_key, faq.stored.language) == ("faq", "parking", "ar")
    assert 0.5 <= faq.stored.confidence <= 1.0
    assert faq.body == answer("parking", "ar")
    assert (faq.inbound.route, faq.inbound.route_key, faq.inbound.language) == ("faq", "parking", "ar")
    assert faq_row(faq_bot, "parking").view_count == 1
    assert not llm.requests, "an FAQ answer needs no LLM call"

    joke = user.say("tell me a joke")
    assert (joke.stored.route, joke.stored.language) == ("llm", "en")
    assert joke.body == "FAKE-LLM: tell me a joke"
    assert joke.stored.model == "gpt-4o-mini"
    assert len(llm.requests) == 1
    assert llm.requests[0]["body"]["messages"][-1] == {"role": "user", "content": "tell me a joke"}

    at_the_seam = Chat(faq_bot, "+967711000011")
    assert _answered(at_the_seam.say("وين أوقف سيارتي؟")) == _answered(faq)
    assert _answered(at_the_seam.say("tell me a joke")) == _answered(joke)
    assert faq_row(faq_bot, "parking").view_count == 2 and len(llm.requests) == 2
