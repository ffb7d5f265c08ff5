"""The last seats of an event, claimed at the same moment by several users through two real RQ workers started
with the Procfile's worker command: the database lets exactly the seats that are left be sold, everyone else
is told the event is full (or how many seats are left), and no turn fails on the way.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.core.db import db as database
from bot.i18n import catalog, localize
from models import Conversation, Event, Message, Registration, User
from models.base import utcnow
from tests.conftest import BOT_NUMBER, REDIS_URL, inbound_params, post_signed, run_jobs, send
from tests.conversation.test_ordering import procfile_worker, wait_until_listening
from tests.fakes import ACCOUNT_SID, AUTH_TOKEN

ROOT = Path(__file__).resolve().parents[2]
CAPACITY, TAKEN = 10, 8  # two seats left
# each user: phone, language, the seats they ask for. Two one-seat users at least, so the two seats always sell.
USERS = [("+967713000401", "en", 1), ("+967713000402", "ar", 1), ("+967713000403", "en", 2),
         ("+967713000404", "ar", 2), ("+967713000405", "en", 1), ("+967713000406", "ar", 1)]
WORDS = {"en": ("events", "yes"), "ar": ("الفعاليات", "نعم")}


@pytest.fixture
def start_workers(settings, app, twilio, llm, redis_client):
    """Starts two workers from the Procfile (as tests/conversation/test_ordering.py does) when called, so the users
    can be brought to the confirm step in-process first; stops them after the test."""
    procs: list[subprocess.Popen] = []

    def start(n: int = 2) -> list[subprocess.Popen]:
        env = dict(os.environ, DATABASE_URL=settings.database_url, REDIS_URL=REDIS_URL,
                   TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_WHATSAPP_NUMBER=BOT_NUMBER,
                   TWILIO_API_BASE_URL=twilio.url, PUBLIC_BASE_URL=settings.public_base_url,
                   OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=f"{llm.url}/v1", OPENAI_MODEL="gpt-4o-mini",
                   SECRET_KEY="test", LOG_LEVEL="WARNING",
                   PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
        procs.extend(subprocess.Popen(procfile_worker(), shell=True, cwd=ROOT, env=env, start_new_session=True)
                     for _ in range(n))
        wait_until_listening(redis_client, len(procs))
        return procs

    yield start
    for p in procs:
        os.killpg(p.pid, 15)
    for p in procs:
        p.wait(15)


@pytest.fixture
def last_seats(app) -> int:
    """The only upcoming event, with two seats left."""
    starts = (utcnow() + timedelta(days=5)).replace(hour=16, minute=30, second=0, microsecond=0)
    with app.app_context(), database.session_scope() as s:
        event = Event(code="LAST", title_en="Jazz Night", title_ar="ليلة الجاز", starts_at=starts,
                      price_yer=5000, capacity=CAPACITY, seats_taken=TAKEN, status="published")
        s.add(event)
        s.flush()
        return event.id


def bring_to_confirm(app, twilio, event_id: int) -> None:
    """Each user picks the event, then their seats, in-process: the conversation awaits their yes."""
    for phone, lang, seats in USERS:
        for text in (WORDS[lang][0], "1", "1", str(seats)):
            assert send(app.test_client(), phone, text)[0].status_code == 200
            run_jobs(app)
        question = catalog.MESSAGES["confirm_register"][lang].split("\n")[0]
        assert twilio.sent_to(phone)[-1]["body"].startswith(question)
    with app.app_context(), database.session_scope() as s:
        for conversation in s.scalars(select(Conversation)):
            awaiting = conversation.context["awaiting"]
            assert (awaiting["kind"], awaiting["event_id"]) == ("confirm_register", event_id)


def all_say_yes_at_once(app) -> None:
    forms = [inbound_params(phone, WORDS[lang][1]) for phone, lang, _ in USERS]
    barrier = threading.Barrier(len(forms))
    codes: list[int] = []

    def deliver(form: dict) -> None:
        client = app.test_client()
        barrier.wait()
        codes.append(post_signed(client, "/webhooks/twilio/messages", form).status_code)

    threads = [threading.Thread(target=deliver, args=(form,)) for form in forms]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * len(forms)


def wait_until_no_turn_waits(app, seconds: float = 60.0) -> None:
    """Until the workers have taken every turn to an end (answered or failed)."""
    deadline = time.time() + seconds
    while True:
        with app.app_context(), database.session_scope() as s:
            waiting = s.scalar(select(func.count()).where(Message.direction == "inbound",
                                                          Message.status == "received"))
        if not waiting:
            return
        assert time.time() < deadline, f"{waiting} turns still waiting after {seconds:.0f}s"
        time.sleep(0.1)


def test_concurrent_yes_sells_exactly_the_last_seats(app, twilio, start_workers, last_seats):
    bring_to_confirm(app, twilio, last_seats)
    before = {phone: len(twilio.sent_to(phone)) for phone, _, _ in USERS}
    start_workers(2)
    all_say_yes_at_once(app)
    wait_until_no_turn_waits(app)

    with app.app_context(), database.session_scope() as s:
        event = s.get(Event, last_seats)
        tickets = {s.get(User, r.user_id).phone: r for r in s.scalars(select(Registration))}
        replies = {s.get(User, m.user_id).phone: m
                   for m in s.scalars(select(Message).where(Message.direction == "outbound",
                                                            Message.action_taken.is_not(None),
                                                            Message.action_taken != "registration_requested"))}
        failed = list(s.scalars(select(Message).where((Message.status == "failed")
                                                      | Message.error_message.is_not(None))))
        unanswered = list(s.scalars(select(Message).where(Message.direction == "inbound",
                                                          Message.status != "processed")))

    assert not failed, [(m.id, m.status, m.error_message) for m in failed]
    assert not unanswered, [(m.id, m.body, m.status) for m in unanswered]
    answers = {phone: twilio.wait_for(phone, before[phone] + 1, seconds=15)[before[phone]:] for phone, _, _ in USERS}
    assert all(len(a) == 1 for a in answers.values()), answers
    assert event.seats_taken == event.capacity == CAPACITY
    assert sum(t.seats for t in tickets.values()) == CAPACITY - TAKEN, "exactly the seats that were left"
    assert all(t.status == "registered" for t in tickets.values())

    for phone, lang, seats in USERS:
        body = answers[phone][0]["body"]
        if phone in tickets:
            assert tickets[phone].seats == seats
            assert localize.code(tickets[phone].ticket_code, lang) in body
            assert replies[phone].route_key == "registered"
        else:
            full = catalog.say("register_full", lang, title=event.title(lang))
            not_enough = catalog.say("register_not_enough", lang, title=event.title(lang),
                                     left=localize.seats(1, lang))
            assert body in (full, not_enough), body
            assert phone not in replies, "a refused booking records no action"
