"""A worker SIGKILLed in the middle of replies (issue 15): the users it held are free again once their locks'
time-to-live passes (nobody renews them), the requeue sweep brings their turns to the surviving worker, and
every turn is answered once, with no process restarted by hand.

The kill lands while the worker waits on the LLM, never in the milliseconds between a part's claim and its
Twilio SID being stored: a kill there leaves the part `failed` ("interrupted") by design, since nobody can
know whether Twilio accepted it (at most one send per part; docs/operations.md). The test stops the worker
first (SIGSTOP) and kills it only when no part is `submitting`."""
import time

import pytest

from tests.faults.stack import assert_exactly_once, kill_between_sends, wait_answered

pytestmark = pytest.mark.faults


def test_a_worker_killed_mid_reply_delays_its_users_by_seconds(stack, twilio, llm, redis_server):
    first, _second = stack.up(workers=2)
    llm.delay = 1.0
    phones = [f"+96771300{i:04d}" for i in range(10)]
    turns = [(phone, k) for k in (1, 2, 3) for phone in phones]
    for phone, k in turns:
        assert stack.post(_params(phone, k)) == 200
    deadline = time.time() + 30
    while len(llm.requests) < 3 and time.time() < deadline:
        time.sleep(0.05)
    assert llm.requests, "no reply reached the LLM"
    kill_between_sends(stack, first, stack.env["DATABASE_URL"])  # mid-LLM call, its users' locks held
    killed = time.time()
    answered = wait_answered(twilio, turns, seconds=60)
    print(f"\nworker SIGKILL: all {len(turns)} turns answered {answered - killed:.1f}s after the kill")
    assert_exactly_once(twilio, turns)
    queue = stack.readyz()["queue"]
    assert queue["oldest_unanswered_seconds"] == 0.0 and queue["workers_alive"] >= 2


def _params(phone, k):
    from tests.conftest import inbound_params
    return inbound_params(phone, f"sequence {k}")
