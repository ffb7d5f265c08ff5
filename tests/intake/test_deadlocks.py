"""Issue 15, item 3: no deadlock fails the intake, and a reply never waits for a user's row.

Real PostgreSQL, two connections in two threads. The intake's batch locks the user (its upsert) and then the
conversation (its counters); a transaction that holds the conversation and then asks for the user closes the
cycle — the order the reply's combined statement used to take them in. PostgreSQL aborts the intake as the
deadlock's victim (40P01), the batch runs again after a jittered pause and stores every turn exactly once.
"""
from __future__ import annotations

import logging
import threading
import time

import pytest
from sqlalchemy import create_engine, func, select, text

from bot.core.db import db
from bot.intake.buffer import BUFFER_KEY, DEAD_KEY
from bot.worker.jobs import ingest_buffered
from models import Conversation, Message, User
from tests.conftest import run_jobs, send


def deadlocks(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"))


def wait_for_lock_wait(engine, like: str, timeout: float = 20.0) -> None:
    """Until another backend waits for a row lock in a statement matching `like`."""
    deadline = time.time() + timeout
    with engine.connect() as connection:
        while time.time() < deadline:
            waiting = connection.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE :like AND pid <> pg_backend_pid()"), {"like": like})
            connection.rollback()  # pg_stat_activity is read once per transaction: a new one per look
            if waiting:
                return
            time.sleep(0.02)
        seen = connection.execute(text("SELECT state, wait_event_type, left(query, 120) FROM pg_stat_activity "
                                       "WHERE datname = current_database()")).all()
    raise AssertionError(f"no backend waited on a lock in {like!r}: {seen}")


@pytest.fixture
def buffered(make_app):
    return make_app(intake_mode="buffered")


def test_a_deadlocked_intake_batch_is_retried_and_stores_every_turn_once(buffered, redis_client, caplog):
    client = buffered.test_client()
    phones = ["+967712000950", "+967712000951"]
    for phone in phones:  # each user has an active conversation: the batch below updates its counters
        assert send(client, phone, "first")[0].status_code == 200
    with buffered.app_context():
        ingest_buffered()
        with db.session_scope() as session:
            user = session.scalars(select(User).where(User.phone == phones[0])).one()
            user_id = user.id
            conversation_id = session.scalars(select(Conversation.id).where(Conversation.user_id == user_id)).one()
    sids = [send(client, phone, f"turn {k}")[1] for k in range(5) for phone in phones]
    engine = create_engine(buffered.config["SETTINGS"].database_url)
    before = deadlocks(engine)

    other = engine.connect()
    other.begin()
    # this side waits long before checking for a deadlock, so the intake (1 s) is the one that finds it
    other.execute(text("SET LOCAL deadlock_timeout = '30s'"))
    other.execute(text("UPDATE conversations SET message_count = message_count WHERE id = :id"),
                  {"id": conversation_id})
    outcome: dict = {}

    def intake():
        with buffered.app_context():
            try:
                outcome["taken"] = ingest_buffered()
            except Exception as exc:  # the failure this test guards against: the job fails
                outcome["error"] = exc

    caplog.set_level(logging.WARNING, logger="bot.intake.retry")
    worker = threading.Thread(target=intake)
    worker.start()
    try:
        wait_for_lock_wait(engine, "%")  # the intake holds the users and waits for the conversation's row
        # ... and now the cycle: the conversation held here, the user held by the intake
        other.execute(text("UPDATE users SET updated_at = now() WHERE id = :id"), {"id": user_id})
        other.commit()
    finally:
        other.close()
    worker.join(timeout=60)
    assert not worker.is_alive()

    assert "error" not in outcome, outcome.get("error")
    assert deadlocks(engine) > before, "PostgreSQL saw no deadlock: the test provoked nothing"
    assert any("40P01" in r.getMessage() for r in caplog.records), "the batch was not retried after the deadlock"
    assert redis_client.llen(BUFFER_KEY) == 0 and redis_client.llen(DEAD_KEY) == 0
    with buffered.app_context(), db.session_scope() as session:
        stored = session.scalars(select(Message.twilio_sid).where(Message.twilio_sid.in_(sids))).all()
        assert sorted(stored) == sorted(sids), "every turn stored exactly once"
        counts = dict(session.execute(select(Message.conversation_id, func.count())
                                      .where(Message.direction == "inbound").group_by(Message.conversation_id)).all())
        for conversation in session.scalars(select(Conversation)):
            assert conversation.message_count == counts[conversation.id] == 6, "counters counted once"
    engine.dispose()


def test_a_reply_never_waits_for_its_users_row(app, client, twilio):
    """A reply may hold the conversation before it stores the user's language (the LLM route counts its tokens
    there first), and an intake holds the user while it waits for that conversation: so the reply stores the
    language only if nobody holds the user's row, and never waits for it. Here the row is held for 30 s, as by
    an intake: the reply goes out at once, the language is left for the next written message."""
    phone = "+967712000960"
    assert send(client, phone, "hello")[0].status_code == 200
    engine = create_engine(app.config["SETTINGS"].database_url)
    with app.app_context(), db.session_scope() as session:
        user_id = session.scalars(select(User.id).where(User.phone == phone)).one()
    held, done = threading.Event(), threading.Event()

    def hold_the_user():
        with engine.connect() as holder:
            holder.execute(text("SELECT 1 FROM users WHERE id = :id FOR NO KEY UPDATE"), {"id": user_id})
            held.set()
            done.wait(30)
            holder.rollback()

    holder = threading.Thread(target=hold_the_user)
    holder.start()
    assert held.wait(10)
    started = time.monotonic()
    run_jobs(app)  # the RQ worker runs in the main thread (it sets signal handlers)
    elapsed = time.monotonic() - started
    done.set()
    holder.join(timeout=60)
    assert elapsed < 10, f"the reply waited {elapsed:.1f} s for the user's row"
    assert len(twilio.sent_to(phone)) == 1
    with app.app_context(), db.session_scope() as session:
        assert session.get(User, user_id).preferred_language is None, "left for the next message"
    assert send(client, phone, "hello again")[0].status_code == 200  # the row is free now
    run_jobs(app)
    with app.app_context(), db.session_scope() as session:
        assert session.get(User, user_id).preferred_language == "en"
    engine.dispose()
