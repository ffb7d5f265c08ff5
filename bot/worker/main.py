"""The RQ worker: `python -m bot.worker` (the Procfile's `worker:`); run several side by side.

It builds the app once and keeps its context for every job. Jobs run in this process (RQ's `SimpleWorker`)
rather than in one forked child per job: reply jobs are short and I/O-bound, and forking would cost more
than the job. Every worker takes the `intake` queue (storing buffered turns, bot/intake/ingest.py) before `replies`.

WORKER_THREADS (default 4) RQ workers run in threads of this one process, each registered with RQ under its
own name. A reply spends most of its time waiting — on the LLM (seconds, with a real one), on Twilio, on
PostgreSQL — so one process with a single job at a time would leave its core idle and every other user
queued behind one LLM call. Threads share the trained matcher, the database pool and the HTTP clients. Per
user order does not depend on it: a job holds its user's Redis lock (bot/worker/runs.py). Job timeouts use RQ's
`TimerDeathPenalty` (SIGALRM reaches only the main thread). On SIGTERM or SIGINT every worker finishes the
job in hand and stops; idle ones notice within `IDLE_POLL_SECONDS`. With WORKER_THREADS=1 one `BotWorker`
runs in the main thread, with RQ's own signal handling and SIGALRM timeouts.

Beside the RQ workers run the pumps (bot/worker/pumps.py, WORKER_PUMPS): an ingest pump and WORKER_THREADS reply
pumps that take buffered turns and ready users straight off Redis, so a message costs no RQ job while they run.

Workers heal: RQ's loop quits on a Redis timeout or any error outside a job (Redis restarted, PostgreSQL
gone while RQ records a result); each worker is then replaced by a fresh one (a new RQ name) after a backoff
of 1 s doubling to 30 s, until a stop is requested. A thread that ends some other way makes the process
exit 1, so the platform restarts it: it never exits 0 unless asked to stop.
"""
from __future__ import annotations

import contextlib
import gc
import logging
import signal
import sys
import threading
import time
from typing import Callable

from flask import Flask
from rq import SimpleWorker
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.timeouts import TimerDeathPenalty
from rq.utils import import_attribute
from rq.utils import now as utcnow
from rq.worker.base import StopRequested

from bot.app import create_app
from bot.core.db import db
from bot.core.errors import ConfigurationError
from bot.wiring import runtime
from bot.worker.pumps import Pumps

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 1
HEARTBEAT_SECONDS = 10  # RQ's worker key lives worker_ttl + 60 (480 s by default)
BACKOFF_SECONDS = (1.0, 30.0)  # a worker whose loop broke is replaced after 1 s, doubling up to 30 s
# Jobs queued by a release before the package layout (bot/ was flat) name their functions by the old paths; a
# rolling deploy's new workers still run them.
LEGACY_JOB_NAMES = {"bot.jobs.answer_ready_users": "bot.worker.jobs.answer_ready_users",
                    "bot.jobs.reply_to_user": "bot.worker.jobs.reply_to_user",
                    "bot.jobs.send_reminders": "bot.worker.jobs.send_reminders",
                    "bot.jobs.requeue_stale_turns": "bot.worker.jobs.requeue_stale_turns",
                    "bot.ingest.ingest_buffered": "bot.worker.jobs.ingest_buffered"}


class BotJob(Job):
    """RQ's Job, which also runs jobs queued under the names of earlier releases (`LEGACY_JOB_NAMES`)."""

    @property
    def func(self):
        renamed = LEGACY_JOB_NAMES.get(self.func_name)
        return import_attribute(renamed) if renamed else super().func


class BotWorker(SimpleWorker):
    """RQ's `SimpleWorker` with fewer Redis round trips per job, running `BotJob`s.

    RQ refreshes the worker's heartbeat (HSET, then EXPIRE: two round trips) three times per job outside its
    pipelines — before and after each dequeue and after each job — to keep a key whose TTL is minutes. Here a
    heartbeat outside a pipeline is one pipelined round trip and is skipped within HEARTBEAT_SECONDS of the
    last one; heartbeats inside RQ's own pipelines (which set a job's longer TTL) are untouched.
    """

    job_class = BotJob

    def heartbeat(self, timeout=None, pipeline=None):
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline=pipeline)
        last = self.last_heartbeat
        if timeout is None and last is not None and (utcnow() - last).total_seconds() < HEARTBEAT_SECONDS:
            return None
        with self.connection.pipeline() as batch:
            super().heartbeat(timeout, pipeline=batch)
            batch.execute()
        return None


class ThreadWorker(BotWorker):
    """A `BotWorker` that can run in a thread other than the main one."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        """Signals reach the main thread only; `serve` turns them into `request_warm_stop`."""

    def request_warm_stop(self) -> None:
        self._stop_requested = True  # RQ's loop checks it before each dequeue

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        # RQ's idle wait only ends with a job; wake every IDLE_POLL_SECONDS to notice a stop request
        while True:
            if self._stop_requested:
                raise StopRequested()
            result = super().dequeue_job_and_maintain_ttl(IDLE_POLL_SECONDS, max_idle_time=IDLE_POLL_SECONDS)
            if result is not None:
                return result


class Supervised:
    """One worker slot: runs RQ workers one after another until a stop is requested, replacing one whose
    loop broke (RQ quits on a Redis timeout or an error outside a job) after a growing pause."""

    def __init__(self, make_worker: Callable[[], BotWorker], level: str) -> None:
        self.make_worker, self.level = make_worker, level
        self.stopping = threading.Event()
        self.worker: BotWorker | None = None

    def run(self) -> None:
        with contextlib.suppress(StopRequested):  # RQ's signal handler (a worker in the main thread), in a pause
            self._run()

    def _run(self) -> None:
        pause = BACKOFF_SECONDS[0]
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                self._bury()
                self.worker = self.make_worker()
                if self.stopping.is_set():
                    return
                self.worker.work(logging_level=self.level)
            except Exception:  # Redis or PostgreSQL gone; the next worker waits for them to come back
                log.exception("worker loop failed; replacing it in %.0fs", pause)
            finally:
                db.session.remove()
            if self.stopping.is_set() or getattr(self.worker, "_stop_requested", False):
                return
            if time.monotonic() - started > 60:
                pause = BACKOFF_SECONDS[0]  # it had worked for a while: this is a new outage
            log.warning("worker %s quit without a stop request; a new one starts in %.0fs",
                        getattr(self.worker, "name", "?"), pause)
            self.stopping.wait(pause)
            pause = min(pause * 2, BACKOFF_SECONDS[1])

    def _bury(self) -> None:
        """Unregisters the worker whose loop broke (its teardown could not reach Redis then), so counts of the
        workers listening stay true; raises while Redis is still down."""
        if self.worker is not None:
            self.worker.register_death()
            self.worker = None

    def stop(self) -> None:
        self.stopping.set()
        if isinstance(self.worker, ThreadWorker):
            self.worker.request_warm_stop()


def serve(app: Flask, threads: int, pumps: Pumps | None = None) -> int:
    """Runs `threads` RQ workers in this process (beside the `pumps`) until SIGTERM/SIGINT (then each finishes
    its job). Returns the exit status: 0 after a stop, 1 if a worker or pump thread ended without one."""
    with app.app_context():
        rt = runtime()
        queues, client = rt.queue.queues, rt.redis
    level = logging.getLevelName(logging.getLogger().level)
    slots = [Supervised(lambda: ThreadWorker(queues, connection=client, serializer=JSONSerializer), level)
             for _ in range(threads)]

    def run(slot: Supervised) -> None:
        with app.app_context():
            slot.run()

    def stop(signum, _frame) -> None:
        log.info("signal %s: the workers stop after the jobs in hand", signum)
        for slot in slots:
            slot.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    running = [threading.Thread(target=run, args=(s,), name=f"rq-worker-{i}", daemon=True)
               for i, s in enumerate(slots)]
    for thread in running:
        thread.start()
    while True:
        stopping = any(slot.stopping.is_set() for slot in slots)
        if not stopping and not (all(thread.is_alive() for thread in running) and (pumps is None or pumps.alive())):
            log.error("a worker thread ended without a stop request: exiting 1 for the platform to restart us")
            return 1
        if stopping and not any(thread.is_alive() for thread in running):
            if pumps is not None:
                pumps.stop()
            return 0
        time.sleep(0.5)  # short sleeps keep the main thread responsive to signals


def main() -> int:
    try:
        app = create_app()
    except ConfigurationError as exc:
        print(f"bot worker: configuration error: {exc}", file=sys.stderr)
        return 2
    with app.app_context():
        rt = runtime()
        if rt.redis is None:
            print("bot worker: REDIS_URL is not set; the embedded mode runs jobs inside the web process",
                  file=sys.stderr)
            return 2
        with db.session_scope() as session:  # train the matcher now, not on the first user's message
            rt.knowledge.get(session)
        # the app, the matcher and the clients live as long as the process: out of the collector's reach, a
        # collection in the middle of a reply no longer walks them (as gunicorn.conf.py does for the web)
        gc.freeze()
        if rt.intake_buffer is not None and rt.intake_buffer.size():
            rt.queue.enqueue_ingest()  # turns buffered while no worker ran (or whose enqueue was lost)
        threads = rt.settings.worker_threads
        pumps = Pumps(app, threads).start() if rt.settings.worker_pumps else None
        if threads <= 1:  # RQ's own signal handling (a stop request ends the slot's loop) and SIGALRM timeouts
            queues, client = rt.queue.queues, rt.redis
            Supervised(lambda: BotWorker(queues, connection=client, serializer=JSONSerializer),
                       logging.getLevelName(logging.getLogger().level)).run()
            if pumps is not None:
                pumps.stop()
            return 0
    return serve(app, threads, pumps)


if __name__ == "__main__":
    sys.exit(main())
