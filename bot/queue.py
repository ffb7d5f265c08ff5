"""Where reply jobs go: RQ on Redis, or a background thread in the embedded mode (which also has a clock
thread for the periodic reminder sweep that `bot.clock` schedules on RQ).

Jobs receive ids, never ORM objects, and are serialised as JSON. The job itself finds every turn of the user
that still awaits an answer, so the database, not the queue, is the record of pending work.
"""
from __future__ import annotations

import logging
import queue as stdlib_queue
import threading
from typing import Protocol

import redis
from flask import Flask
from rq import Queue, Retry
from rq.serializers import JSONSerializer

log = logging.getLogger(__name__)

REPLIES_QUEUE = "replies"
INTAKE_QUEUE = "intake"  # listened to before `replies`: buffered turns are stored before answers are worked on
REPLY_JOB = "bot.jobs.reply_to_user"
INGEST_JOB = "bot.ingest.ingest_buffered"


class TaskQueue(Protocol):
    def enqueue_reply(self, user_id: int, message_id: int) -> None:
        """Schedules the reply job for the user's pending turns (`message_id` names the job)."""

    def enqueue_replies(self, turns: list[tuple[int, int]]) -> None:
        """`enqueue_reply` for each (user id, message id), in one round trip where the queue allows."""


REPLY_OPTIONS = dict(retry=Retry(max=2), timeout=600, failure_ttl=7 * 86400,
                     # result_ttl=0 was tried: RQ then deletes each finished job, 9 more Redis round trips
                     result_ttl=300)


class RQTaskQueue:
    def __init__(self, connection: redis.Redis) -> None:
        self.queue = Queue(REPLIES_QUEUE, connection=connection, serializer=JSONSerializer)
        self.intake = Queue(INTAKE_QUEUE, connection=connection, serializer=JSONSerializer)

    @property
    def queues(self) -> list[Queue]:
        """What a worker listens to, in priority order."""
        return [self.intake, self.queue]

    def enqueue_reply(self, user_id: int, message_id: int) -> None:
        self.enqueue_replies([(user_id, message_id)])

    def enqueue_replies(self, turns: list[tuple[int, int]]) -> None:
        if turns:
            self.queue.enqueue_many([self._reply(user_id, message_id) for user_id, message_id in turns])

    def enqueue_ingest(self) -> None:
        """Schedules a run of the buffered intake (`bot.ingest`); overlapping runs are safe."""
        self.intake.enqueue(INGEST_JOB, job_timeout=600, result_ttl=60, failure_ttl=7 * 86400,
                            description="store buffered turns")

    def _reply(self, user_id: int, message_id: int):
        return Queue.prepare_data(REPLY_JOB, (user_id,), job_id=f"reply-{message_id}",
                                  description=f"reply to user {user_id} (turn {message_id})", **REPLY_OPTIONS)


class ThreadTaskQueue:
    """Runs jobs one at a time in a daemon thread of this process, inside the app's context."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._jobs: stdlib_queue.Queue = stdlib_queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def enqueue_reply(self, user_id: int, message_id: int) -> None:
        self._ensure_thread()
        self._jobs.put(user_id)

    def enqueue_replies(self, turns: list[tuple[int, int]]) -> None:
        for user_id, message_id in turns:
            self.enqueue_reply(user_id, message_id)

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="embedded-jobs", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        from bot.jobs import reply_to_user
        while True:
            user_id = self._jobs.get()
            try:
                with self.app.app_context():
                    reply_to_user(user_id)
            except Exception:  # noqa: BLE001 - a job's failure must not stop the embedded worker
                log.exception("embedded job failed user_id=%s", user_id)
            finally:
                self._jobs.task_done()

    def join(self) -> None:
        """Waits until every queued job has run (used by tests and the chat's local mode)."""
        self._jobs.join()


class ThreadClock:
    """The embedded mode's clock: a daemon thread that runs the reminder sweep every `interval` seconds.

    It waits one interval before the first sweep, so a short command (`flask db upgrade`) never sweeps. Every
    web process running one is safe: each reminder is claimed in the database before it is sent.
    """

    def __init__(self, app: Flask, interval: float) -> None:
        self.app = app
        self.interval = interval
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "ThreadClock":
        self._thread = threading.Thread(target=self._run, name="embedded-clock", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ends the loop after the sweep under way, if any (tests; a daemon thread needs no stop otherwise)."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        from bot.jobs import send_reminders
        while not self._stopped.wait(self.interval):
            try:
                with self.app.app_context():
                    send_reminders()
            except Exception:  # noqa: BLE001 - a failed sweep must not stop the clock; the next one retries
                log.exception("embedded reminder sweep failed")
