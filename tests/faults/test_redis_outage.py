"""Redis restarted (SIGTERM, then started again) and Redis crashed (SIGKILL) under a stream of messages, with
AOF on (issue 15): the web keeps acknowledging (storing directly while Redis is away), the workers and the
clock come back by themselves, stale locks and flags expire or are swept, and every acknowledged turn is
answered exactly once."""
import signal
import time

import pytest

from tests.faults.stack import Stream, assert_exactly_once, wait_answered

pytestmark = pytest.mark.faults


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["restarted", "killed"])
def test_every_acknowledged_turn_is_answered_once_across_a_redis_outage(stack, twilio, llm, redis_server, how):
    workers = stack.up(workers=1)
    llm.delay = 0.2
    phones = [f"+96771400{i:04d}" for i in range(8)]
    stream = Stream(stack, phones, per_phone=8, every=0.1).start()  # 64 turns over ~10 s
    time.sleep(3)
    redis_server.stop(how)
    time.sleep(2)  # Redis away: the webhook stores directly, the workers and the clock retry
    redis_server.start()  # the same directory: the AOF is replayed
    stream.join(120)
    ended = time.time()
    answered = wait_answered(twilio, stream.turns, seconds=60)
    print(f"\nRedis {signal.Signals(how).name}: {len(stream.turns)} turns, {stream.refused} refused and re-posted, "
          f"all answered {answered - ended:.1f}s after the stream ended")
    assert_exactly_once(twilio, stream.turns)
    assert all(proc.poll() is None for proc in [*workers, *stack.procs]), "a process exited"
    queue = stack.readyz()["queue"]
    assert queue["oldest_unanswered_seconds"] == 0.0 and queue["buffered"] == 0
