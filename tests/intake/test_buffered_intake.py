"""The buffered intake (INTAKE_MODE=buffered, the default with Redis): the webhook hands the turn to Redis,
the `intake` job stores it in PostgreSQL in arrival order and queues the reply (order across two worker
processes: tests/conversation/test_ordering.py, both intake modes).

Real Redis, real PostgreSQL, real RQ workers; failures are real (a Redis or PostgreSQL nobody listens on).
"""
from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import redis
from sqlalchemy import func, select

from bot.channels.messages import InboundTurn
from bot.core.db import db
from bot.core.errors import ConfigurationError
from bot.core.settings import Settings
from bot.intake.buffer import BUFFER_KEY, DEAD_KEY, DUPLICATE, QUEUED, SCHEDULE, SCHEDULED_KEY, IntakeBuffer, decode
from bot.intake.store import store_inbound
from bot.web.webhooks import EMPTY_TWIML
from bot.wiring import runtime
from models import Message, User
from tests.conftest import deliver_concurrently, inbound_params, run_jobs, send

DEAD_PORT_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def buffered(make_app):
    return make_app(intake_mode="buffered")


def inbound(session, phone):
    return list(session.scalars(select(Message).join(User, User.id == Message.user_id)
                                .where(User.phone == phone, Message.direction == "inbound")
                                .order_by(Message.id)))


def test_webhook_only_buffers_then_the_intake_job_stores_and_answers(buffered, redis_client, twilio):
    client = buffered.test_client()
    before = time.time()
    response, sid = send(client, "+967712000401", "Is there parking?", profile="سارة")
    assert response.status_code == 200 and response.data.decode() == EMPTY_TWIML
    assert redis_client.llen(BUFFER_KEY) == 1
    assert redis_client.exists(SCHEDULED_KEY)
    with buffered.app_context(), db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0, "stored inside the request"
    time.sleep(1.1)  # the stored time must be the webhook's, not the job's
    run_jobs(buffered)
    assert redis_client.llen(BUFFER_KEY) == 0
    with buffered.app_context(), db.session_scope() as session:
        [turn] = inbound(session, "+967712000401")
        user = session.get(User, turn.user_id)
        assert (turn.twilio_sid, turn.body, user.display_name) == (sid, "Is there parking?", "سارة")
        assert turn.created_at.timestamp() - before < 1.0
        assert turn.status == "processed"
    assert [m["body"] for m in twilio.wait_for("+967712000401", 1)]


def test_concurrent_deliveries_of_one_sid_buffer_once_and_answer_once(buffered, redis_client, twilio):
    params = inbound_params("+967712000402", "duplicate delivery")
    codes = deliver_concurrently(buffered, params, 20)
    assert codes == [200] * 20
    assert redis_client.llen(BUFFER_KEY) == 1
    run_jobs(buffered)
    run_jobs(buffered)
    with buffered.app_context(), db.session_scope() as session:
        assert len(inbound(session, "+967712000402")) == 1
    assert len(twilio.wait_for("+967712000402", 1)) == 1
    time.sleep(0.3)
    assert len(twilio.sent_to("+967712000402")) == 1


def test_redis_down_falls_back_to_storing_in_postgres(buffered, twilio):
    with buffered.app_context():
        runtime().intake_buffer = IntakeBuffer(redis.Redis.from_url(DEAD_PORT_REDIS, socket_connect_timeout=1))
    client = buffered.test_client()
    response, sid = send(client, "+967712000403", "hello while redis is down")
    assert response.status_code == 200
    with buffered.app_context(), db.session_scope() as session:
        assert [m.twilio_sid for m in inbound(session, "+967712000403")] == [sid]
    run_jobs(buffered)  # the reply job went to the queue's own (working) Redis
    assert twilio.wait_for("+967712000403", 1)


def test_a_rerun_after_a_crash_between_storing_and_trimming_stores_and_answers_once(buffered, redis_client,
                                                                                      twilio):
    client = buffered.test_client()
    send(client, "+967712000404", "first")
    send(client, "+967712000404", "second")
    # the crash: a run stored both turns and died before queueing replies and trimming the buffer
    with buffered.app_context(), db.engine.begin() as connection:
        for raw in redis_client.lrange(BUFFER_KEY, 0, -1):
            item = decode(raw)
            store_inbound(connection, item.turn, timedelta(hours=4), now=item.received_at)
    redis_client.delete("rq:queue:intake")  # and its job is gone with it
    with buffered.app_context():
        runtime().queue.enqueue_ingest()  # the next push, sweep or worker start-up
    run_jobs(buffered)
    assert redis_client.llen(BUFFER_KEY) == 0
    with buffered.app_context(), db.session_scope() as session:
        turns = inbound(session, "+967712000404")
        assert [t.body for t in turns] == ["first", "second"]
        assert {t.status for t in turns} == {"processed"}
    got = twilio.wait_for("+967712000404", 2)
    time.sleep(0.3)
    assert len(twilio.sent_to("+967712000404")) == 2 and "first" in got[0]["body"]


def test_an_undecodable_item_is_dead_lettered_and_the_rest_still_stored(buffered, redis_client, twilio):
    client = buffered.test_client()
    redis_client.rpush(BUFFER_KEY, b"{not json")
    send(client, "+967712000405", "after the bad item")
    run_jobs(buffered)
    assert redis_client.llen(BUFFER_KEY) == 0
    [dead] = [json.loads(x) for x in redis_client.lrange(DEAD_KEY, 0, -1)]
    assert dead["item"] == "{not json" and "JSONDecodeError" in dead["error"]
    assert twilio.wait_for("+967712000405", 1)


def test_a_turn_the_database_rejects_is_dead_lettered_alone(buffered, redis_client, twilio):
    client = buffered.test_client()
    send(client, "+967712000406", "good one")
    # a well-formed item whose MessageSid is longer than the column: PostgreSQL refuses it (DataError)
    raw = json.loads(redis_client.lrange(BUFFER_KEY, 0, 0)[0])
    raw["turn"]["channel_message_id"] = "SM" + "x" * 200
    redis_client.lpush(BUFFER_KEY, json.dumps(raw))
    run_jobs(buffered)
    assert redis_client.llen(BUFFER_KEY) == 0
    [dead] = [json.loads(x) for x in redis_client.lrange(DEAD_KEY, 0, -1)]
    assert "DataError" in dead["error"]
    with buffered.app_context(), db.session_scope() as session:
        assert [t.body for t in inbound(session, "+967712000406")] == ["good one"]
    assert twilio.wait_for("+967712000406", 1)


def test_with_postgres_down_the_turns_wait_in_redis(buffered, make_app, redis_client, twilio):
    send(buffered.test_client(), "+967712000407", "kept while the database is down")
    down = make_app(intake_mode="buffered", database_url="postgresql+psycopg2://postgres@127.0.0.1:1/none")
    run_jobs(down)
    assert redis_client.llen(BUFFER_KEY) == 1, "a turn left Redis without reaching PostgreSQL"
    assert not redis_client.llen(DEAD_KEY)
    back = make_app(intake_mode="buffered")  # the database is back (`db` follows the latest app built)
    with back.app_context():
        runtime().queue.enqueue_ingest()
    run_jobs(back)
    assert redis_client.llen(BUFFER_KEY) == 0
    assert twilio.wait_for("+967712000407", 1)


def test_the_clock_sweeps_the_buffer_as_a_safety_net(settings):
    from bot.worker.clock import build_scheduler
    client = redis.Redis.from_url(settings.redis_url)
    names = lambda s: {job.func_name for job in s._cron_jobs}  # noqa: E731
    scheduler = build_scheduler(client, settings.replace(intake_mode="buffered", reminder_check_seconds=300))
    assert "bot.worker.jobs.ingest_buffered" in names(scheduler)
    scheduler = build_scheduler(client, settings.replace(intake_mode="direct", reminder_check_seconds=300))
    assert "bot.worker.jobs.ingest_buffered" not in names(scheduler)


def test_intake_mode_is_validated():
    assert Settings.from_env({"INTAKE_MODE": "Direct"}).intake_mode == "direct"
    assert Settings.from_env({"REDIS_URL": "redis://x"}).buffered_intake
    assert not Settings.from_env({}).buffered_intake  # no Redis: the embedded mode stores directly
    with pytest.raises(ConfigurationError, match="INTAKE_MODE"):
        Settings.from_env({"INTAKE_MODE": "sometimes"})


def test_intake_commands_show_and_retry_dead_letters(buffered, redis_client, twilio):
    runner = buffered.test_cli_runner()
    send(buffered.test_client(), "+967712000408", "will be dead-lettered once")
    raw = redis_client.lpop(BUFFER_KEY)
    IntakeBuffer(redis_client).dead_letter(raw, "OperationalError: simulated outage")
    assert json.loads(runner.invoke(args=["intake", "status"]).output) == {"buffered": 0, "dead_letters": 1}
    listed = runner.invoke(args=["intake", "dead"]).output
    assert "simulated outage" in listed and "will be dead-lettered once" in listed
    assert "moved 1 dead letter" in runner.invoke(args=["intake", "retry-dead"]).output
    assert "took 1 item" in runner.invoke(args=["intake", "drain"]).output
    run_jobs(buffered)
    assert twilio.wait_for("+967712000408", 1)
    assert json.loads(runner.invoke(args=["intake", "status"]).output) == {"buffered": 0, "dead_letters": 0}


def test_intake_commands_say_when_the_buffer_is_off(app):
    result = app.test_cli_runner().invoke(args=["intake", "status"])
    assert result.exit_code == 1 and "buffered intake is off" in result.output


def test_a_push_during_a_drain_leaves_no_stale_flag_behind(buffered, redis_client, twilio):
    """Worker A drains a long buffer; a message arrives, its job (worker B) finds the lock taken and ends.
    After A is done, the next message must schedule a job of its own, not wait for the flag to expire."""
    import threading

    from bot.channels.messages import InboundTurn
    from bot.intake.buffer import QUEUED, SCHEDULE
    from bot.worker.jobs import ingest_buffered
    client = buffered.test_client()
    with buffered.app_context():
        buffer = runtime().intake_buffer
        for i in range(600):
            buffer.push(InboundTurn(channel_message_id=f"SMbulk{i:04d}", phone=f"+9677130{i:05d}", body="bulk"))
    redis_client.delete("rq:queue:intake")
    redis_client.delete(SCHEDULED_KEY)

    def worker_a():
        with buffered.app_context():
            ingest_buffered()
    a = threading.Thread(target=worker_a)
    a.start()
    deadline = time.time() + 10
    while redis_client.llen(BUFFER_KEY) > 550 and time.time() < deadline:  # A has started draining
        time.sleep(0.01)
    send(client, "+967712000409", "arrived during the drain")  # sets the flag again, enqueues B
    assert redis_client.exists(SCHEDULED_KEY)
    with buffered.app_context():
        assert ingest_buffered() == 0, "B should have found the lock taken"
    a.join(60)
    assert redis_client.llen(BUFFER_KEY) == 0
    with buffered.app_context():
        outcome = runtime().intake_buffer.push(InboundTurn(channel_message_id="SMafter", phone="+967712000410",
                                                           body="the next message"))
    assert outcome == SCHEDULE and outcome != QUEUED, "a stale flag held the next message back"


def test_a_runner_that_lost_its_lock_cannot_trim_turns_it_did_not_read(redis_client):
    from bot.channels.messages import InboundTurn
    buffer = IntakeBuffer(redis_client)
    for i in range(3):
        buffer.push(InboundTurn(channel_message_id=f"SMtrim{i}", phone="+967712000420", body=f"turn {i}"))
    stale = buffer.peek(2)  # runner A reads two turns, then its lock expires
    assert buffer.drop(buffer.peek(3)) == 0  # runner B stores and drops all three
    buffer.push(InboundTurn(channel_message_id="SMtrim3", phone="+967712000420", body="turn 3"))
    buffer.push(InboundTurn(channel_message_id="SMtrim4", phone="+967712000420", body="turn 4"))
    assert buffer.drop(stale) == 2, "A's late trim removed turns nobody has stored"
    assert [decode(x).turn.body for x in buffer.peek(10)] == ["turn 3", "turn 4"]


def _turn(sid: str) -> InboundTurn:
    return InboundTurn(channel_message_id=sid, phone="+967712000499", body="hello")


def test_the_push_survives_a_flushed_script_cache_and_a_killed_connection(redis_client):
    buffer = IntakeBuffer(redis_client)
    assert buffer.push(_turn("SMpush1")) == SCHEDULE
    redis_client.script_flush()  # Redis restarted or flushed: EVALSHA finds no script
    assert buffer.push(_turn("SMpush2")) == QUEUED
    host, port = buffer._push._connection()._sock.getsockname()[:2]
    assert redis_client.client_kill_filter(addr=f"{host}:{port}") == 1  # the push's own connection dies
    assert buffer.push(_turn("SMpush3")) == QUEUED
    assert buffer.push(_turn("SMpush3")) == DUPLICATE
    assert [decode(raw).turn.channel_message_id for raw in redis_client.lrange(BUFFER_KEY, 0, -1)] == \
        ["SMpush1", "SMpush2", "SMpush3"]


def test_a_push_whose_reply_was_lost_is_retried_once_and_schedules_an_ingest(redis_client, monkeypatch):
    buffer = IntakeBuffer(redis_client)
    buffer.push(_turn("SMwarm"))  # opens this thread's connection
    redis_client.delete(SCHEDULED_KEY)
    connection = buffer._push._connection()
    real_read, calls = connection.read_response, []

    def reply_lost(*args, **kwargs):
        calls.append(1)
        real_read(*args, **kwargs)  # the script ran and claimed the MessageSid and set the flag...
        raise redis.ConnectionError("connection reset")  # ...but its reply never arrived

    monkeypatch.setattr(connection, "read_response", reply_lost)
    # the retry on a fresh connection finds the MessageSid claimed: buffered once, ingest still scheduled
    assert buffer.push(_turn("SMlost")) == SCHEDULE
    assert calls == [1]
    items = [decode(raw).turn.channel_message_id for raw in redis_client.lrange(BUFFER_KEY, 0, -1)]
    assert items.count("SMlost") == 1


def test_a_push_to_a_redis_that_stays_down_raises_a_redis_error():
    buffer = IntakeBuffer(redis.Redis.from_url(DEAD_PORT_REDIS))
    with pytest.raises(redis.RedisError):
        buffer.push(_turn("SMdown"))
