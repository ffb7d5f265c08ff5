"""`python -m bot.worker` runs WORKER_THREADS RQ workers in one process: replies that wait on the LLM overlap,
one user's replies still keep their order, and SIGTERM lets the jobs in hand finish (warm shutdown)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rq import Worker

from tests.conftest import BOT_NUMBER, REDIS_URL, send
from tests.conversation.test_ordering import numbers, procfile_worker, wait_until_listening
from tests.fakes import ACCOUNT_SID, AUTH_TOKEN

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def start_worker(settings, app, twilio, llm, redis_client):
    procs = []

    def start(threads: int) -> subprocess.Popen:
        env = dict(os.environ, DATABASE_URL=settings.database_url, REDIS_URL=REDIS_URL,
                   TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_WHATSAPP_NUMBER=BOT_NUMBER,
                   TWILIO_API_BASE_URL=twilio.url, PUBLIC_BASE_URL=settings.public_base_url,
                   OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=f"{llm.url}/v1", OPENAI_MODEL="gpt-4o-mini",
                   SECRET_KEY="test", LOG_LEVEL="WARNING", WORKER_THREADS=str(threads),
                   PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
        proc = subprocess.Popen(procfile_worker(), shell=True, cwd=ROOT, env=env,
                                start_new_session=True)
        procs.append(proc)
        wait_until_listening(redis_client, threads)
        return proc

    yield start
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)


def test_one_process_answers_several_users_at_once(start_worker, client, twilio, llm):
    start_worker(4)
    llm.delay = 1.0
    users = [f"+96771200050{i}" for i in range(4)]
    for phone in users:
        send(client, phone, "overlap please")
    for phone in users:
        assert twilio.wait_for(phone, 1, 30), phone
    starts = sorted(r["t"] for r in llm.requests[-4:])
    assert starts[-1] - starts[0] < 0.8, "the LLM calls ran one after another"


def test_threads_keep_each_users_order(start_worker, client, twilio, llm):
    start_worker(4)
    llm.delay = 0.05
    users = ["+967712000511", "+967712000512"]
    for k in range(1, 6):
        for phone in users:
            send(client, phone, f"sequence {k}")
    for phone in users:
        assert numbers(twilio.wait_for(phone, 5, 60), "sequence ") == [1, 2, 3, 4, 5], phone


def test_sigterm_finishes_the_job_in_hand_then_exits(start_worker, client, twilio, llm, redis_client):
    proc = start_worker(3)
    llm.delay = 2.0
    send(client, "+967712000521", "answer me before you go")
    deadline = time.time() + 20
    while not llm.requests and time.time() < deadline:
        time.sleep(0.05)
    assert llm.requests, "the job never reached the LLM"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    assert twilio.sent_to("+967712000521"), "the job in hand was abandoned"
    assert Worker.count(connection=redis_client) == 0, "a stopped worker stayed registered"


def test_heartbeats_outside_rq_pipelines_are_throttled(redis_client):
    from bot.core.queue import RQTaskQueue
    from bot.worker.main import BotWorker

    def hsets() -> int:
        return redis_client.info("commandstats").get("cmdstat_hset", {}).get("calls", 0)
    worker = BotWorker(RQTaskQueue(redis_client).queues, connection=redis_client)
    worker.register_birth()
    try:
        worker.heartbeat()
        before = hsets()
        for _ in range(5):
            worker.heartbeat()  # within HEARTBEAT_SECONDS of the last one: nothing sent
        assert hsets() == before
        worker.last_heartbeat = None
        redis_client.persist(worker.key)
        worker.heartbeat()  # due: sent, and the key gets its TTL back
        assert hsets() == before + 1 and redis_client.ttl(worker.key) > 0
    finally:
        worker.register_death()


def test_a_worker_killed_in_the_middle_of_a_reply_loses_no_turn(start_worker, app, client, twilio, llm,
                                                                redis_client):
    """SIGKILL takes the reply run and the user it had taken off the ready list; the turn is still waiting
    in PostgreSQL, and the clock's requeue sweep brings it to the next worker."""
    from bot.core.queue import READY_KEY
    from bot.worker.jobs import requeue_stale_turns
    phone = "+967712000531"
    proc = start_worker(1)
    llm.delay = 3.0
    send(client, phone, "answer me even if my worker dies")
    deadline = time.time() + 20
    while not llm.requests and time.time() < deadline:
        time.sleep(0.05)
    assert llm.requests, "the run never reached the LLM"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert redis_client.llen(READY_KEY) == 0 and not twilio.sent_to(phone)
    for key in redis_client.scan_iter("bot:lock:user:*"):
        redis_client.delete(key)  # the dead worker's user lock runs out (USER_LOCK_SECONDS)
    llm.delay = 0.0
    start_worker(1)
    with app.app_context():
        assert requeue_stale_turns(0) == 1  # what the clock does every REQUEUE_CHECK_SECONDS
    assert len(twilio.wait_for(phone, 1, 30)) == 1
