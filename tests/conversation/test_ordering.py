"""Behaviour 7 (and 4 across processes): two real RQ workers, started with the Procfile's worker command.

One user's replies go out in the order the messages arrived; different users proceed in parallel; N
concurrent deliveries of one MessageSid give one reply.
"""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rq import Worker

from tests.conftest import BOT_NUMBER, REDIS_URL, deliver_concurrently, inbound_params, send
from tests.fakes import ACCOUNT_SID, AUTH_TOKEN

ROOT = Path(__file__).resolve().parents[2]


def procfile_worker() -> str:
    """The Procfile's worker command, run with `exec`: the Popen is then the worker process itself, so a
    fixture that waits for it waits until the worker is gone (a worker still stopping takes the next test's
    jobs)."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("worker:"):
            return "exec " + line.split(":", 1)[1].strip()
    raise AssertionError("Procfile has no worker line")


@pytest.fixture
def workers(settings, app, twilio, llm, redis_client):
    env = dict(os.environ, DATABASE_URL=settings.database_url, REDIS_URL=REDIS_URL,
               TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_WHATSAPP_NUMBER=BOT_NUMBER,
               TWILIO_API_BASE_URL=twilio.url, PUBLIC_BASE_URL=settings.public_base_url,
               OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=f"{llm.url}/v1", OPENAI_MODEL="gpt-4o-mini",
               SECRET_KEY="test", LOG_LEVEL="WARNING", PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    procs = [subprocess.Popen(procfile_worker(), shell=True, cwd=ROOT, env=env, start_new_session=True)
             for _ in range(2)]
    wait_until_listening(redis_client, len(procs))
    yield procs
    for p in procs:
        os.killpg(p.pid, 15)
    for p in procs:
        p.wait(15)


def wait_until_listening(connection, n: int, seconds: float = 60.0) -> None:
    """A worker registers only once its app is built and its matcher trained; until then a job waits for it,
    and "in parallel" would measure start-up, not the queue."""
    deadline = time.time() + seconds
    while Worker.count(connection=connection) < n:
        assert time.time() < deadline, f"{n} workers did not start within {seconds:.0f}s"
        time.sleep(0.1)


def numbers(sent, word):
    return [int(m["body"].split(word)[1].split()[0]) for m in sent if word in m["body"]]


@pytest.mark.parametrize("intake_mode", ["direct", "buffered"])
def test_each_users_replies_keep_arrival_order(workers, make_app, twilio, llm, intake_mode):
    client = make_app(intake_mode=intake_mode).test_client()
    llm.delay = 0.05
    users = ["+967712000301", "+967712000302", "+967712000303"]
    for k in range(1, 7):
        for phone in users:
            send(client, phone, f"sequence {k}")
    for phone in users:
        got = twilio.wait_for(phone, 6, seconds=60)
        assert numbers(got, "sequence ") == [1, 2, 3, 4, 5, 6], phone


def test_different_users_are_answered_in_parallel(workers, client, twilio, llm):
    llm.delay = 0.5
    send(client, "+967712000311", "parallel a")
    send(client, "+967712000312", "parallel b")
    assert twilio.wait_for("+967712000311", 1, 30) and twilio.wait_for("+967712000312", 1, 30)
    first, second = sorted(r["t"] for r in llm.requests[-2:])
    assert second - first < 0.4, "the second user waited for the first user's answer"


def test_concurrent_duplicates_give_one_reply(workers, app, twilio):
    phone = "+967712000321"
    codes = deliver_concurrently(app, inbound_params(phone, "duplicate delivery"), 20)
    assert codes == [200] * 20
    assert twilio.wait_for(phone, 1, 30)
    time.sleep(1.5)
    assert len(twilio.sent_to(phone)) == 1
