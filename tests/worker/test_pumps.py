"""The worker's pumps (bot/worker/pumps.py): with a pump process alive, buffered turns are stored and answered
with no RQ job at all; without one, the webhook and the ingest fall back to RQ jobs, and the clock's nudge
queues a run for users a dead pump process left on the ready list. Real Redis, PostgreSQL and worker
processes (the Procfile's line)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rq import Queue
from rq.registry import FinishedJobRegistry

from bot.channels.messages import InboundTurn
from bot.core.queue import INTAKE_QUEUE, PUMPS_KEY, READY_KEY, REPLIES_QUEUE
from bot.intake.buffer import QUEUED, SCHEDULE, WAKE_KEY
from bot.wiring import runtime
from tests.conftest import BOT_NUMBER, REDIS_URL, run_jobs, send
from tests.conversation.test_ordering import numbers, procfile_worker
from tests.fakes import ACCOUNT_SID, AUTH_TOKEN

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def buffered(make_app):
    return make_app(intake_mode="buffered")


@pytest.fixture
def pump_worker(settings, twilio, llm, redis_client):
    procs = []

    def start(**env_extra) -> subprocess.Popen:
        env = dict(os.environ, DATABASE_URL=settings.database_url, REDIS_URL=REDIS_URL,
                   TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_WHATSAPP_NUMBER=BOT_NUMBER,
                   TWILIO_API_BASE_URL=twilio.url, PUBLIC_BASE_URL=settings.public_base_url,
                   OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=f"{llm.url}/v1", OPENAI_MODEL="gpt-4o-mini",
                   SECRET_KEY="test", LOG_LEVEL="WARNING", WORKER_THREADS="2",
                   PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", **env_extra)
        proc = subprocess.Popen(procfile_worker(), shell=True, cwd=ROOT, env=env, start_new_session=True)
        procs.append(proc)
        deadline = time.time() + 60
        while not redis_client.zcard(PUMPS_KEY):
            assert proc.poll() is None, "the worker exited"
            assert time.time() < deadline, "the worker's pumps did not start within 60 s"
            time.sleep(0.1)
        return proc

    yield start
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)


def turn(sid: str) -> InboundTurn:
    return InboundTurn(channel_message_id=sid, phone="+967712000620", body="hello")


def rq_jobs(redis_client) -> int:
    """Every job RQ was given on the intake and replies queues: waiting, or finished (kept 60-300 s)."""
    total = 0
    for name in (INTAKE_QUEUE, REPLIES_QUEUE):
        queue = Queue(name, connection=redis_client)
        total += queue.count + FinishedJobRegistry(queue=queue).count
    return total


def test_pumps_store_and_answer_buffered_turns_without_rq_jobs(pump_worker, buffered, twilio, redis_client):
    pump_worker()
    client = buffered.test_client()
    users = ["+967712000601", "+967712000602"]
    for k in range(1, 4):
        for phone in users:
            send(client, phone, f"sequence {k}")
    for phone in users:
        assert numbers(twilio.wait_for(phone, 3, 30), "sequence ") == [1, 2, 3], phone
    assert rq_jobs(redis_client) == 0, "a turn went through an RQ job while the pumps were alive"
    deadline = time.time() + 5  # a user pushed again while answered may still be on the list: a pump takes them
    while redis_client.llen(READY_KEY) and time.time() < deadline:
        time.sleep(0.05)
    assert not redis_client.llen(READY_KEY), "the pumps left users on the ready list"


def test_a_stopped_pump_process_is_no_longer_counted(pump_worker, redis_client):
    proc = pump_worker()
    assert redis_client.zcard(PUMPS_KEY) == 1
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    assert redis_client.zcard(PUMPS_KEY) == 0


def test_without_pumps_the_push_schedules_an_rq_job(buffered, redis_client):
    with buffered.app_context():
        rt = runtime()
        assert rt.intake_buffer.push(turn("SMnopump1")) == SCHEDULE
        assert not redis_client.llen(WAKE_KEY)
        rt.queue.pumps_beat("host:1", 15)
        assert rt.intake_buffer.push(turn("SMpump2")) == QUEUED
        assert rt.intake_buffer.push(turn("SMpump3")) == QUEUED
        assert redis_client.llen(WAKE_KEY) == 1, "one wake-up token waits at most"
        assert rt.intake_buffer.wait(0.1) and not rt.intake_buffer.wait(0.1)


def test_replies_go_to_rq_only_without_a_pump_process(buffered, redis_client):
    with buffered.app_context():
        rt = runtime()
        replies = Queue(REPLIES_QUEUE, connection=redis_client)
        rt.queue.pumps_beat("host:1", 15)
        rt.queue.enqueue_replies([(7, 70), (8, 80)])
        assert replies.count == 0 and redis_client.lrange(READY_KEY, 0, -1) == [b"7", b"8"]
        assert not rt.queue.nudge(), "a pump process is alive to take them"
        rt.queue.pumps_beat("host:1", 0)
        assert rt.queue.pumps_alive() == 0
        rt.queue.enqueue_replies([(9, 90)])
        assert replies.count == 1


def test_the_nudge_queues_a_run_for_users_a_dead_pump_process_left(buffered, twilio, redis_client):
    with buffered.app_context():
        rt = runtime()
        send(buffered.test_client(), "+967712000611", "who takes me")  # no pumps yet: an ingest job is queued
        rt.queue.pumps_beat("host:dead", 1)
        run_jobs(buffered)  # stores the turn; the reply goes to the ready list only, for the pumps
        assert redis_client.llen(READY_KEY) == 1 and not twilio.sent_to("+967712000611")
        time.sleep(1.1)  # the pump process's beat runs out
        assert rt.queue.nudge()
        assert not rt.queue.nudge(), "one run is enough"
    run_jobs(buffered)
    assert twilio.wait_for("+967712000611", 1, 10)
