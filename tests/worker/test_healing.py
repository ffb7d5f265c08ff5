"""Processes that heal (issue 15): a worker whose RQ loop broke on a Redis or PostgreSQL error is replaced
after a pause instead of leaving its thread dead; a worker process whose thread ended without a stop request
exits 1 for the platform to restart it; the clock outlives Redis errors."""
from __future__ import annotations

import signal

import pytest
import redis
from rq.exceptions import StopRequested

from bot.worker import clock as clock_module
from bot.worker import main as worker_main


class FlakyWorker:
    """Stands in for an RQ worker: its loop raises what `outcome` says, or ends after a stop request."""

    made: list["FlakyWorker"] = []

    def __init__(self, outcome: BaseException | None) -> None:
        self.outcome, self._stop_requested, self.buried = outcome, False, False
        self.name = f"flaky-{len(FlakyWorker.made)}"
        FlakyWorker.made.append(self)

    def work(self, logging_level=None) -> bool:
        if self.outcome is not None:
            raise self.outcome
        self._stop_requested = True  # what SIGTERM does to a real one
        return True

    def register_death(self) -> None:
        self.buried = True


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    monkeypatch.setattr(worker_main, "BACKOFF_SECONDS", (0.01, 0.04))
    FlakyWorker.made = []


def test_a_worker_whose_loop_broke_is_replaced_and_the_broken_one_unregistered(app):
    outcomes = iter([redis.ConnectionError("Redis restarting"), redis.TimeoutError("slow"), None])
    slot = worker_main.Supervised(lambda: FlakyWorker(next(outcomes)), "WARNING")
    with app.app_context():
        slot.run()
    assert len(FlakyWorker.made) == 3
    assert [w.buried for w in FlakyWorker.made] == [True, True, False], "a broken worker stayed registered"


def test_a_loop_that_ends_without_a_stop_request_is_replaced_too(app):
    """RQ's loop returns (it logs "quitting") on a Redis timeout: that is not a stop."""
    made = []

    class Quitter(FlakyWorker):
        def work(self, logging_level=None) -> bool:
            made.append(self)
            if len(made) == 3:
                self._stop_requested = True
            return False
    slot = worker_main.Supervised(lambda: Quitter(None), "WARNING")
    with app.app_context():
        slot.run()
    assert len(made) == 3


def test_a_stop_request_during_a_pause_ends_the_slot(app):
    slot = worker_main.Supervised(lambda: FlakyWorker(redis.ConnectionError("down")), "WARNING")
    slot.stop()
    with app.app_context():
        slot.run()
    assert len(FlakyWorker.made) <= 1


def test_the_worker_process_exits_1_when_a_thread_ends_without_a_stop(app, monkeypatch):
    monkeypatch.setattr(worker_main.Supervised, "run", lambda self: None)  # a thread that just ends
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        assert worker_main.serve(app, 2) == 1
    finally:
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])


def test_the_clock_starts_a_fresh_scheduler_after_each_redis_error():
    pauses, built = [], []

    class Scheduler:
        def __init__(self, error):
            self.error = error

        def start(self):
            if self.error:
                raise self.error
    errors = iter([redis.ConnectionError("refused"), redis.TimeoutError("timeout"),
                   redis.BusyLoadingError("loading the AOF"), None])

    def build():
        built.append(1)
        return Scheduler(next(errors))
    clock_module.run_until_stopped(build, sleep=pauses.append)
    assert len(built) == 4 and pauses == [1.0, 2.0, 4.0]


def test_a_signal_during_the_clocks_pause_stops_it():
    def sleep(_seconds):
        raise StopRequested()  # RQ's handler, still installed
    built = []

    class Down:
        def start(self):
            built.append(1)
            raise redis.ConnectionError("refused")
    clock_module.run_until_stopped(Down, sleep=sleep)
    assert built == [1]
