"""Reply runs (bot/conversation/runs.py, bot/core/queue.py): users with new turns go on the ready list and a few
RQ jobs answer them, one user at a time under the user's lock. Real Redis, real PostgreSQL, a real RQ worker, the
fakes for Twilio and the LLM.
"""
from __future__ import annotations

import json

import pytest
from rq import Queue
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer
from sqlalchemy import select

from bot.conversation import runs
from bot.core.db import db
from bot.core.queue import READY_KEY, REPLIES_QUEUE, RUN_JOB
from bot.wiring import runtime
from bot.worker.jobs import requeue_stale_turns
from models import Message, User
from tests.conftest import run_jobs, send

PHONES = [f"+96771200{n:04d}" for n in range(500, 512)]


def queued_runs(redis_client) -> list:
    return [job for job in Queue(REPLIES_QUEUE, connection=redis_client, serializer=JSONSerializer).get_jobs()
            if job.func_name == RUN_JOB]


def waiting_turns(app) -> int:
    with app.app_context(), db.session_scope() as session:
        return len(session.scalars(select(Message.id).where(Message.direction == "inbound",
                                                            Message.status == "received")).all())


def user_ids(app, phones) -> list[int]:
    with app.app_context(), db.session_scope() as session:
        ids = dict(session.execute(select(User.phone, User.id).where(User.phone.in_(phones))).all())
    return [ids[phone] for phone in phones]


@pytest.fixture
def buffered(make_app):
    return make_app(intake_mode="buffered")


def test_one_run_per_listening_worker_answers_a_burst_of_users(buffered, redis_client, twilio):
    redis_client.sadd(f"rq:workers:{REPLIES_QUEUE}", "w1", "w2", "w3")  # three workers listen on `replies`
    client = buffered.test_client()
    for phone in PHONES:
        assert send(client, phone, "Is there parking?")[0].status_code == 200
    with buffered.app_context():
        runtime().queue.intake.get_jobs()[0].perform()  # the ingest job alone: it stores and queues the users
    assert redis_client.lrange(READY_KEY, 0, -1) == [str(i).encode() for i in user_ids(buffered, PHONES)]
    assert len(queued_runs(redis_client)) == 3, "one run per listening worker, not one job per user"
    redis_client.delete(f"rq:workers:{REPLIES_QUEUE}")
    run_jobs(buffered)
    for phone in PHONES:
        assert len(twilio.wait_for(phone, 1)) == 1
    assert waiting_turns(buffered) == 0 and redis_client.llen(READY_KEY) == 0


def test_never_more_runs_than_users(app, redis_client):
    redis_client.sadd(f"rq:workers:{REPLIES_QUEUE}", *[f"w{n}" for n in range(8)])
    with app.app_context():
        runtime().queue.enqueue_replies([(7, 70), (7, 71), (8, 80)])  # a user twice counts once
    assert redis_client.lrange(READY_KEY, 0, -1) == [b"7", b"8"]
    assert len(queued_runs(redis_client)) == 2


def test_a_run_that_fails_puts_its_user_back_and_the_retry_answers(app, redis_client, twilio, monkeypatch):
    client = app.test_client()
    send(client, PHONES[0], "When is the concert?")
    replier = app.extensions["runtime"].replier
    real, calls = replier.reply_to_user, []

    def fails_once(user_id, held=None):
        calls.append(user_id)
        if len(calls) == 1:
            assert redis_client.llen(READY_KEY) == 0  # taken off the list while it is answered
            assert redis_client.exists(f"bot:lock:user:{user_id}")  # with the user's lock
            raise ConnectionError("database went away")
        return real(user_id, held)

    monkeypatch.setattr(replier, "reply_to_user", fails_once)
    run_jobs(app)  # the run fails, RQ retries it, the retry finds the user back on the list
    assert calls == [calls[0], calls[0]]
    assert len(twilio.wait_for(PHONES[0], 1)) == 1
    assert waiting_turns(app) == 0


def test_a_run_past_its_budget_hands_over_to_a_new_run(app, redis_client, twilio, monkeypatch):
    monkeypatch.setattr(runs, "RUN_BUDGET_SECONDS", 0.0)  # every run answers one user, then hands over
    client = app.test_client()
    for phone in PHONES[:4]:
        send(client, phone, "Is there parking?")
    redis_client.delete(f"rq:queue:{REPLIES_QUEUE}")  # the four runs the webhooks queued: keep one
    with app.app_context():
        runtime().queue.hand_over()
    run_jobs(app)
    for phone in PHONES[:4]:
        assert len(twilio.wait_for(phone, 1)) == 1
    assert waiting_turns(app) == 0
    assert not FailedJobRegistry(REPLIES_QUEUE, connection=redis_client).get_job_ids()


def test_turns_whose_run_was_lost_are_requeued_by_the_sweep(app, redis_client, twilio):
    client = app.test_client()
    send(client, PHONES[0], "Is there parking?")
    send(client, PHONES[1], "Is there parking?")
    # a worker killed outright after taking the users off the list: the runs and the list are gone
    redis_client.delete(f"rq:queue:{REPLIES_QUEUE}", READY_KEY)
    run_jobs(app)
    assert waiting_turns(app) == 2 and not twilio.messages
    with app.app_context():
        assert requeue_stale_turns(3600) == 0, "turns younger than the threshold are left to their runs"
        assert requeue_stale_turns(0) == 2
    run_jobs(app)
    assert len(twilio.wait_for(PHONES[0], 1)) == 1 and len(twilio.wait_for(PHONES[1], 1)) == 1
    assert waiting_turns(app) == 0


def test_a_user_queued_twice_is_answered_once(app, redis_client, twilio):
    client = app.test_client()
    send(client, PHONES[0], "Is there parking?")
    with app.app_context():
        [user_id] = user_ids(app, PHONES[:1])
        runtime().queue.enqueue_replies([(user_id, 1)])  # e.g. the sweep and the webhook both queued them
    assert redis_client.lrange(READY_KEY, 0, -1) == [str(user_id).encode()] * 2
    run_jobs(app)
    assert len(twilio.wait_for(PHONES[0], 1)) == 1
    assert redis_client.llen(READY_KEY) == 0


def test_a_reply_job_queued_by_the_previous_release_still_runs(app, twilio):
    client = app.test_client()
    send(client, PHONES[0], "Is there parking?")
    [user_id] = user_ids(app, PHONES[:1])
    with app.app_context():
        runtime().queue.queue.enqueue("bot.jobs.reply_to_user", user_id)  # a job enqueued before the package layout
        runtime().redis.delete(READY_KEY)
    run_jobs(app)
    assert len(twilio.wait_for(PHONES[0], 1)) == 1


def test_replies_status_shows_the_ready_list_queued_and_failed_jobs(app, redis_client, twilio):
    send(app.test_client(), PHONES[0], "Is there parking?")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["replies", "status"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"ready_users": 1, "queued_jobs": 1, "failed_jobs": 0, "workers": 0}
    run_jobs(app)
    assert json.loads(runner.invoke(args=["replies", "status"]).output)["ready_users"] == 0


def test_replies_status_says_when_there_is_no_queue(make_app):
    result = make_app(redis_url=None).test_cli_runner().invoke(args=["replies", "status"])
    assert result.exit_code == 1 and "no REDIS_URL" in result.output
