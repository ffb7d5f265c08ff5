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
"""
from __future__ import annotations

import gc
import logging
import signal
import sys
import threading

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

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 1
HEARTBEAT_SECONDS = 10  # RQ's worker key lives worker_ttl + 60 (480 s by default)
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


def serve(app: Flask, threads: int) -> None:
    """Runs `threads` RQ workers in this process until SIGTERM/SIGINT (then each finishes its job)."""
    with app.app_context():
        rt = runtime()
        level = logging.getLevelName(logging.getLogger().level)
        workers = [ThreadWorker(rt.queue.queues, connection=rt.redis, serializer=JSONSerializer)
                   for _ in range(threads)]

    def run(worker: ThreadWorker) -> None:
        with app.app_context():
            try:
                worker.work(logging_level=level)
            finally:
                db.session.remove()

    def stop(signum, _frame) -> None:
        log.info("signal %s: the workers stop after the jobs in hand", signum)
        for worker in workers:
            worker.request_warm_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    running = [threading.Thread(target=run, args=(w,), name=f"rq-worker-{i}", daemon=True)
               for i, w in enumerate(workers)]
    for thread in running:
        thread.start()
    for thread in running:
        while thread.is_alive():
            thread.join(timeout=0.5)  # short joins keep the main thread responsive to signals


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
        if threads <= 1:
            worker = BotWorker(rt.queue.queues, connection=rt.redis, serializer=JSONSerializer)
            worker.work(logging_level=logging.getLevelName(logging.getLogger().level))
            return 0
    serve(app, threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
