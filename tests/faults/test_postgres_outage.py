"""PostgreSQL stopped for 15 s under a stream of messages (issue 15), on a cluster of the test's own: the
webhook keeps acknowledging (turns wait in Redis), /readyz names the database as down, and afterwards every
turn is stored and answered exactly once, with no process restarted."""
import time

import pytest

from models.migrate import upgrade
from tests.faults.stack import PostgresCluster, Stream, assert_exactly_once, wait_answered

pytestmark = [pytest.mark.faults,
              pytest.mark.skipif(not PostgresCluster.available(), reason="needs root and PostgreSQL's binaries")]


@pytest.fixture
def cluster():
    cluster = PostgresCluster().create()
    upgrade(cluster.url)
    yield cluster
    cluster.close()


@pytest.fixture
def stack_env(cluster) -> dict:
    return {"DATABASE_URL": cluster.url}


def test_every_turn_is_answered_once_after_postgres_comes_back(stack, cluster, twilio, llm):
    processes = stack.up(workers=1)
    llm.delay = 0.1
    phones = [f"+96771600{i:04d}" for i in range(5)]
    stream = Stream(stack, phones, per_phone=8, every=0.4).start()  # 40 turns over ~16 s
    time.sleep(2)
    cluster.stop()
    stopped = time.time()
    time.sleep(3)
    ready = stack.readyz()
    assert ready["status"] == "unavailable" and ready["down"] == ["database"]
    time.sleep(max(0.0, 15 - (time.time() - stopped)))
    cluster.start()
    stream.join(120)
    ended = time.time()
    answered = wait_answered(twilio, stream.turns, seconds=90)
    print(f"\nPostgreSQL stopped 15 s: {len(stream.turns)} turns, {stream.refused} refused and re-posted, "
          f"all answered {answered - ended:.1f}s after the stream ended")
    assert stream.refused == 0, "the webhook refused turns while PostgreSQL was down"
    assert_exactly_once(twilio, stream.turns)
    assert all(proc.poll() is None for proc in [*processes, *stack.procs]), "a process exited"
