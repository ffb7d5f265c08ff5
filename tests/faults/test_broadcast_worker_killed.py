"""A broadcast to 500 registrants on the Procfile's processes (issue 17), the fake Twilio answering 429 to some
(retried), 63016 to some and 21610 to others, with the worker sending it SIGKILLed in the middle (between two
REST calls): every recipient gets at most one message, opted-out users none, users outside the 24-hour window
only the template; the rest of the broadcast goes on in the surviving worker with nothing restarted, and the
counts of the summary the organizer receives are the fake Twilio's record."""
import os
import re
import time
from collections import Counter
from datetime import timedelta

import pytest
import redis
from rq import Worker
from rq.serializers import JSONSerializer
from sqlalchemy import create_engine, select, text

from bot.core.db import db
from bot.delivery.audience import outcome
from models import Event, Registration, User
from models.base import utcnow
from tests.dialog.journey import upcoming_events
from tests.dialog.seam import Chat
from tests.faults.stack import kill_between_sends

pytestmark = pytest.mark.faults

ADMIN = "+967719900001"
TEMPLATE_EN = "HX" + "d" * 32
N, OUTSIDE, OPTED_OUT, BUSY, CLOSED, BLOCKED = 500, 50, 20, 20, 20, 20


@pytest.fixture
def stack_env() -> dict:
    return {"BROADCAST_MPS": "50", "BROADCAST_TEMPLATE_SID_EN": TEMPLATE_EN, "BROADCAST_CHECK_SECONDS": "1",
            "SEND_RETRY_SECONDS": "0"}


def phone(i: int) -> str:
    return f"+96771400{i:04d}"


def seed(app) -> None:
    """500 registrants of JAZZ: the first 50 last wrote 30 h ago (outside the window), the next 20 opted out."""
    with app.app_context(), db.session_scope() as s:
        s.add_all(upcoming_events(utcnow()))
        s.add(User(phone=ADMIN, role="admin", preferred_language="en"))
        s.flush()
        jazz = s.scalars(select(Event).where(Event.code == "JAZZ")).one()
        for i in range(N):
            wrote = utcnow() - timedelta(hours=30 if i < OUTSIDE else 1)
            user = User(phone=phone(i), preferred_language="en", last_inbound_at=wrote,
                        opted_out_at=utcnow() if OUTSIDE <= i < OUTSIDE + OPTED_OUT else None)
            s.add(user)
            s.flush()
            s.add(Registration(event_id=jazz.id, user_id=user.id, ticket_code=f"B{i:05d}", seats=1,
                               status="registered"))


def test_a_broadcast_survives_a_killed_worker_and_its_summary_matches_twilio(make_app, stack, twilio, settings):
    app = make_app(broadcast_template_sid_en=TEMPLATE_EN, broadcast_mps=50.0)  # the settings the stack runs with
    seed(app)
    inside = range(OUTSIDE + OPTED_OUT, N)
    busy, closed, blocked = (list(inside)[k * 20:(k + 1) * 20] for k in range(3))
    for i in busy:
        twilio.rules[f"whatsapp:{phone(i)}"] = {"status": 429, "code": 20429, "times": 1}
    for i in closed:
        twilio.rules[f"whatsapp:{phone(i)}"] = {"status": 400, "code": 63016}
    for i in blocked:
        twilio.rules[f"whatsapp:{phone(i)}"] = {"status": 400, "code": 21610}
    twilio.callbacks = "ordered"
    stack.env["PUBLIC_BASE_URL"] = stack.url  # the fake's status callbacks reach the stack's web process
    stack.up(workers=2)
    admin = Chat(app, ADMIN, profile=None)
    admin.say("/broadcast JAZZ The gates open at 6 pm tonight.")
    admin.say("yes")
    started = time.time()

    _kill_the_sending_worker(stack, twilio, after=150, database_url=settings.database_url)
    broadcast_id = _wait_finished(settings.database_url, seconds=120)
    elapsed = time.time() - started
    summary = twilio.wait_for(ADMIN, 1, 90)
    assert summary, "the organizer got the summary"

    sent = Counter(m["to"] for m in twilio.messages if m["to"] != f"whatsapp:{ADMIN}")
    assert max(sent.values()) == 1, "at most one message per recipient"
    for i in range(OUTSIDE, OUTSIDE + OPTED_OUT):
        assert not twilio.attempts_to(phone(i)), "opted-out users get nothing"
    for i in closed + blocked:
        assert len(twilio.attempts_to(phone(i))) <= 1, "permanent errors are not retried"
    for i in range(OUTSIDE):
        for message in twilio.sent_to(phone(i)):
            assert message["content_sid"] == TEMPLATE_EN and not message["body"], "outside the window: template"
    for i in busy:
        assert len(twilio.sent_to(phone(i))) <= 1, "429 retried, sent once"
    # Recipients whose message never reached Twilio: a run killed between two REST calls loses none. (Unsent
    # recipients seen in .ci/run came from another test's embedded broadcast thread sending this broadcast to its
    # outbox: docs/broadcasts.md.) Whatever happens, the summary must show them and agree with Twilio's record.
    lost = [phone(i) for i in range(N) if not OUTSIDE <= i < OUTSIDE + OPTED_OUT and not twilio.attempts_to(phone(i))]
    reached_closed = sum(1 for i in closed if twilio.attempts_to(phone(i)))
    reached_blocked = sum(1 for i in blocked if twilio.attempts_to(phone(i)))

    _wait_settled(settings, sum(sent.values()), seconds=30)  # the last callbacks, on a loaded machine
    with app.app_context(), db.session_scope() as s:
        result = outcome(s, broadcast_id)
        opted = len(s.scalars(select(User.id).where(User.opted_out_at.isnot(None))).all())
    print(f"\nbroadcast of {N}: {sum(sent.values())} sent in {elapsed:.1f}s, a worker killed; {dict(result.failed)}; "
          f"never sent: {lost} {_unsettled(settings)}")
    assert len(lost) <= 1, (lost, _unsettled(settings))
    assert result.accepted == sum(sent.values()), ("the summary counts what Twilio accepted", _unsettled(settings))
    assert result.failed[63016] == reached_closed and result.failed[21610] == reached_blocked
    assert result.accepted + sum(result.failed.values()) + result.waiting == N - OPTED_OUT
    assert result.waiting + result.failed.get(None, 0) == len(lost), "an unsent recipient is shown as such"
    assert not result.skipped.get("no_template")
    assert result.skipped["opted_out"] == OPTED_OUT and opted == OPTED_OUT + reached_blocked
    assert result.delivered == result.read == result.accepted, "every callback applied, by SID or by message id"
    counts = re.search(r"sent: (\d+) · delivered: (\d+) · read: (\d+)", summary[-1]["body"])
    assert counts and int(counts.group(1)) == sum(sent.values()), summary[-1]["body"]


def _wait_settled(settings, accepted: int, seconds: float) -> None:
    """Until every message Twilio accepted has been read (its callbacks applied), or `seconds` pass."""
    engine = create_engine(settings.database_url)
    deadline = time.time() + seconds
    try:
        while time.time() < deadline:
            with engine.connect() as connection:
                read = connection.execute(text("SELECT count(*) FROM messages m JOIN broadcast_recipients r "
                                               "ON r.message_id = m.id WHERE m.status = 'read'")).scalar()
            if read >= accepted:
                return
            time.sleep(0.5)
    finally:
        engine.dispose()


def _unsettled(settings) -> list:
    """The broadcast's messages not yet accepted nor failed, with what the fake holds for their recipient."""
    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT m.id, m.status, m.twilio_sid, m.error_message, m.updated_at, r.claimed_at, u.phone "
            "FROM messages m JOIN broadcast_recipients r ON r.message_id = m.id JOIN users u ON u.id = m.user_id "
            "WHERE m.status IN ('pending', 'submitting')")).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def _kill_the_sending_worker(stack, twilio, after: int, database_url: str) -> None:
    """SIGKILLs the worker process running the broadcast once Twilio holds `after` messages — between two REST
    calls, as tests/faults/test_worker_killed.py does: a kill during one leaves that message `submitting`, never
    resent (Twilio may have it; tests/campaigns/test_broadcasts.py shows its callbacks still find it), and
    whether Twilio got it is a coin toss no count can be checked against."""
    deadline = time.time() + 60
    while len(twilio.messages) < after:
        assert time.time() < deadline, f"only {len(twilio.messages)} messages sent in 60 s"
        time.sleep(0.05)
    client = redis.Redis.from_url(stack.redis_url)
    try:
        for _ in range(400):
            for worker in Worker.all(connection=client, serializer=JSONSerializer):
                job = worker.get_current_job()
                if job is not None and job.func_name.endswith("send_broadcast"):
                    [proc] = [p for p in stack.procs if p.pid == os.getpgid(worker.pid)]
                    kill_between_sends(stack, proc, database_url, route="broadcast")
                    return
            time.sleep(0.02)
        raise AssertionError("no worker was running the broadcast")
    finally:
        client.close()


def _wait_finished(database_url: str, seconds: float) -> int:
    engine = create_engine(database_url)
    try:
        deadline = time.time() + seconds
        while time.time() < deadline:
            with engine.connect() as connection:
                row = connection.execute(text("SELECT id, status FROM broadcasts ORDER BY id DESC LIMIT 1")).first()
            if row and row.status in ("finished", "summarized"):
                return row.id
            time.sleep(0.5)
        raise AssertionError(f"the broadcast did not finish within {seconds:.0f}s: {row}")
    finally:
        engine.dispose()
