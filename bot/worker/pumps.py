"""Pumps: threads of the worker process that take buffered turns and ready users straight off their Redis
lists, with no RQ job in between.

Why: an RQ job costs the worker about 4 ms of CPU and some twenty Redis commands of bookkeeping (dequeue,
registries, heartbeat, result), and at users' pace — a few turns waiting at a time — every turn stored and
nearly every reply run was a job of its own: two jobs per message, the largest single cost of a reply after
the LLM client (docs/benchmarks.md, "Pumps"). A pump waits on its list with BLPOP instead:

- the **ingest pump** (one per process) waits for the token the webhook's push leaves on `bot:intake:wake`
  (bot/intake/buffer.py) and stores what is buffered (`ingest_buffered`, under the intake lock: pumps of
  several processes take turns); after each second without a token it looks at the buffer itself, for turns
  pushed by an earlier release's web;
- each **reply pump** (WORKER_THREADS per process) waits for a user on the ready list, takes the user's lock
  and answers their turns (`Replier.answer_next_user`), exactly as a reply run does for each of its users.

The process beats `bot:pumps` every PUMP_BEAT_SECONDS while all its pumps run. While any pump process is
alive, the webhook and the ingest enqueue no RQ jobs for this work (bot/core/queue.py); otherwise — workers
of an earlier release during a rolling deploy, the tests' burst workers — they fall back to the RQ jobs, and
the clock's `nudge` queues a run for users left on the list by a pump process that died. Nothing else
changes: RQ workers still run in the process for reminders, broadcasts, sweeps and those fallbacks, a user's
turns are still answered under their lock in order, and a pump killed with a user in hand loses the user
from the list, never the turn (the clock's lost-user sweep queues them again).

A pump whose step fails (PostgreSQL or Redis away) logs it and tries again after 1 s, doubling to 8 s; on
SIGTERM each finishes the user in hand and stops within `WAIT_SECONDS`.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Callable

from flask import Flask

from bot.core.db import db
from bot.core.queue import PUMP_TTL_SECONDS
from bot.wiring import runtime
from bot.worker.jobs import ingest_buffered

log = logging.getLogger(__name__)

WAIT_SECONDS = 1.0  # a pump's longest wait on its list: how soon it notices a stop request
PUMP_BEAT_SECONDS = 5.0  # the process's beat on `bot:pumps` (counted alive for PUMP_TTL_SECONDS)
BACKOFF_SECONDS = (1.0, 8.0)  # short: a pump's failures are mostly Redis or PostgreSQL away, and users wait on it


def reply_step() -> object:
    return runtime().replier.answer_next_user(WAIT_SECONDS)


def ingest_step() -> object:
    buffer = runtime().intake_buffer
    if buffer.wait(WAIT_SECONDS) or buffer.size():
        return ingest_buffered()
    return 0


class Pumps:
    """The process's pumps: one ingest pump and `replies` reply pumps, each in a thread, and their beat."""

    def __init__(self, app: Flask, replies: int) -> None:
        self.app = app
        self.stopping = threading.Event()
        self.member = f"{socket.gethostname()}:{os.getpid()}"
        steps: list[tuple[str, Callable[[], object]]] = [("ingest-pump", ingest_step)]
        steps += [(f"reply-pump-{i}", reply_step) for i in range(replies)]
        self.threads = [threading.Thread(target=self._run, args=(name, step), name=name, daemon=True)
                        for name, step in steps]

    def start(self) -> "Pumps":
        for thread in self.threads:
            thread.start()
        threading.Thread(target=self._beat, name="pump-beat", daemon=True).start()
        return self

    def alive(self) -> bool:
        return all(thread.is_alive() for thread in self.threads)

    def stop(self, timeout: float = 30.0) -> None:
        """Each pump finishes the user in hand; the process is no longer counted as a pump process."""
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout)
        self._say(0)

    def _run(self, name: str, step: Callable[[], object]) -> None:
        pause = BACKOFF_SECONDS[0]
        with self.app.app_context():
            while not self.stopping.is_set():
                try:
                    step()
                    pause = BACKOFF_SECONDS[0]
                except Exception:  # PostgreSQL or Redis away, or a bug: the user is back on the list
                    log.exception("%s failed; trying again in %.0fs", name, pause)
                    self.stopping.wait(pause)
                    pause = min(pause * 2, BACKOFF_SECONDS[1])
                finally:
                    db.session.remove()

    def _beat(self) -> None:
        while not self.stopping.is_set():
            if self.alive():
                self._say(PUMP_TTL_SECONDS)
            self.stopping.wait(PUMP_BEAT_SECONDS)

    def _say(self, seconds: float) -> None:
        try:
            with self.app.app_context():
                runtime().queue.pumps_beat(self.member, seconds)
        except Exception as exc:  # Redis away: the next beat tries again (the webhook falls back to RQ jobs)
            log.warning("pump beat failed: %s", exc)
