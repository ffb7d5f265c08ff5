"""Where reply jobs go: RQ on Redis, or a background thread in the embedded mode (which also has a clock
thread for the periodic sweep that `bot.worker.clock` schedules on RQ).

Jobs are named, not imported (as RQ names them): `bot.worker.jobs` holds the functions, and the embedded
threads are handed what to call by `bot.wiring`, so nothing here imports the code the jobs run.

Jobs receive ids, never ORM objects, and are serialised as JSON. The job itself finds every turn of the user
that still awaits an answer, so the database, not the queue, is the record of pending work.

With RQ, a user with new turns is pushed to the *ready list* (`bot:replies:ready`, user ids). The workers' reply
pumps wait on it (bot/worker/pumps.py); while no pump process is alive (`bot:pumps`), a few *reply runs*
(`bot.worker.jobs.answer_ready_users`) are enqueued on `replies` instead: as many as there are workers
listening, never more than the users just pushed. A run takes users off the list one at a time and answers
each (`reply_to_user`, under the user's lock) until the list is empty or its time budget is spent, when it
hands over to a fresh run. Under load one RQ job thus answers many users — RQ's own bookkeeping was a third
of a reply's CPU when every user had a job of their own — while the runs still proceed side by side, one per
worker thread, so a slow LLM call holds up only its own user. A user on the list twice, or whose lock another
run holds, costs one lock attempt. A run that fails puts its user back first; a worker killed outright loses
the user it held from the list, never the turn: the clock's `replies requeue` sweep (REQUEUE_CHECK_SECONDS)
finds turns left unanswered in the database.
"""
from __future__ import annotations

import logging
import queue as stdlib_queue
import threading
import time
from contextlib import AbstractContextManager
from typing import Callable, Protocol

import redis
from rq import Queue, Retry, Worker
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer
from rq.worker_registration import WORKERS_BY_QUEUE_KEY

from bot.core.locks import RedisLocks, RedisUserLock
from bot.core.redis_scripts import ScriptChannel

log = logging.getLogger(__name__)

REPLIES_QUEUE = "replies"
INTAKE_QUEUE = "intake"  # listened to before `replies`: buffered turns are stored before answers are worked on
REPLY_JOB = "bot.worker.jobs.reply_to_user"  # one user's turns; still run when queued by an earlier release
RUN_JOB = "bot.worker.jobs.answer_ready_users"
INGEST_JOB = "bot.worker.jobs.ingest_buffered"
BROADCAST_JOB = "bot.worker.jobs.send_broadcast"
BROADCAST_QUEUED = "bot:broadcasts:{}:queued"  # a run of this broadcast is queued (set with the enqueue)
BROADCAST_RUNNING = "bot:broadcasts:{}:running"  # a run of this broadcast holds it (a redis-py Lock)
READY_KEY = "bot:replies:ready"
PUMPS_KEY = "bot:pumps"  # worker processes whose pumps take turns and ready users off the lists themselves
PUMP_TTL_SECONDS = 15  # a pump process not heard of for this long is counted as gone (it beats every 5 s)
WORKERS_SEEN_SECONDS = 5.0  # how long a count of the workers listening on `replies` is reused
ALIVE_SECONDS = 120  # a worker that sent no heartbeat for this long is counted as gone (idle ones beat every 10 s)
AppContext = Callable[[], AbstractContextManager]  # the Flask app's `app_context`, for work outside requests

# Scores in PUMPS_KEY are expiry moments on Redis's own clock, so the machines' clocks need not agree.
# KEYS: the pumps set. ARGV: member ('' to only count), seconds to live (0: gone). Returns the pump processes
# alive.
_PUMP_BEAT = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t)
if ARGV[1] ~= '' then
    if tonumber(ARGV[2]) > 0 then
        redis.call('ZADD', KEYS[1], t + tonumber(ARGV[2]), ARGV[1])
    else
        redis.call('ZREM', KEYS[1], ARGV[1])
    end
end
return redis.call('ZCARD', KEYS[1])
"""
# KEYS: the ready list, the pumps set. ARGV: user ids. Pushes them; returns the pump processes alive.
PUSH_READY = """
for _, user in ipairs(ARGV) do
    redis.call('RPUSH', KEYS[1], user)
end
local now = redis.call('TIME')
return redis.call('ZCOUNT', KEYS[2], '(' .. (tonumber(now[1]) + tonumber(now[2]) / 1000000), '+inf')
"""


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
        self.connection = connection
        self.queue = Queue(REPLIES_QUEUE, connection=connection, serializer=JSONSerializer)
        self.intake = Queue(INTAKE_QUEUE, connection=connection, serializer=JSONSerializer)
        self._workers = (0, -WORKERS_SEEN_SECONDS)  # (count, when it was read)
        # a user pushed twice costs one lock attempt, so the push may run again after a lost reply
        self._push_ready = ScriptChannel(connection, PUSH_READY, retry=True)
        self._pump_beat = connection.register_script(_PUMP_BEAT)

    @property
    def queues(self) -> list[Queue]:
        """What a worker listens to, in priority order."""
        return [self.intake, self.queue]

    def enqueue_reply(self, user_id: int, message_id: int) -> None:
        self.enqueue_replies([(user_id, message_id)])

    def enqueue_replies(self, turns: list[tuple[int, int]]) -> None:
        """Pushes the users to the ready list, where the workers' reply pumps wait (bot/worker/pumps.py); when
        no pump process is alive, also enqueues up to one reply run per listening RQ worker (after the push, so
        the users are on the list before a run can look for them)."""
        users = list(dict.fromkeys(user_id for user_id, _ in turns))
        if not users:
            return
        if not self._push_ready([READY_KEY, PUMPS_KEY], users):
            self.queue.enqueue_many([self._run_job() for _ in range(min(len(users), self._listening()))])

    def wait_ready_user(self, locks: RedisLocks, seconds: float) -> tuple[int, RedisUserLock] | None:
        """Waits up to `seconds` for a user on the ready list and takes them off it; returns them with their
        lock held, or None when none came or their lock was taken (the attempt leaves its holder a mark, as
        `take_ready_user` does)."""
        popped = self.connection.blpop([READY_KEY], timeout=seconds)
        if popped is None:
            return None
        user_id = int(popped[1])
        lock = locks.for_user(user_id)
        return (user_id, lock) if lock.acquire() else None

    def pumps_beat(self, member: str, seconds: float) -> int:
        """Marks the pump process `member` alive for `seconds` (0: gone); returns the pump processes alive."""
        return int(self._pump_beat(keys=[PUMPS_KEY], args=[member, int(seconds)]))

    def pumps_alive(self) -> int:
        return self.pumps_beat("", 0)

    def nudge(self) -> bool:
        """Enqueues a reply run when users wait on the ready list and neither a pump process (the last one died
        after they were pushed) nor a queued run will take them; the clock calls it. True if it did."""
        with self.connection.pipeline(transaction=False) as pipeline:
            pipeline.llen(READY_KEY)
            pipeline.llen(self.queue.key)
            ready, queued = pipeline.execute()
        if not ready or queued or self.pumps_alive():
            return False
        self.queue.enqueue_many([self._run_job()])
        return True

    def take_ready_user(self, locks: RedisLocks) -> tuple[int, RedisUserLock] | None:
        """The next user on the ready list whose lock is free, taken off the list with their lock held, in one
        round trip; None when the list is empty. A user popped whose lock another run holds is left to that
        run, which learns of the attempt when it releases the lock (bot/core/locks.py)."""
        return locks.take_ready(READY_KEY)

    def lost_users(self, turns: list[tuple[int, int]], locks: RedisLocks) -> list[tuple[int, int]]:
        """Those of `turns` (user id, turn id) whose user nobody will answer: not on the ready list and not
        held (their run was killed, or lost with a Redis restart). One round trip for the list and the locks."""
        if not turns:
            return []
        with self.connection.pipeline(transaction=False) as pipeline:
            pipeline.lrange(READY_KEY, 0, -1)
            for user_id, _ in turns:
                pipeline.exists(locks.key_for(user_id))
            ready, *held = pipeline.execute()
        queued = {int(user) for user in ready}
        return [(user_id, turn) for (user_id, turn), taken in zip(turns, held, strict=True)
                if not taken and user_id not in queued]

    def return_ready_user(self, user_id: int) -> None:
        """Puts a user whose run failed back at the head of the list, for the retry or another run."""
        self.connection.lpush(READY_KEY, user_id)

    def hand_over(self) -> bool:
        """Enqueues one more reply run if users are still waiting (a run whose time budget is spent ends
        with this, so the worker can take the `intake` queue in between); True if it did."""
        if not self.connection.llen(READY_KEY):
            return False
        self.queue.enqueue_many([self._run_job()])
        return True

    def status(self) -> dict[str, int]:
        """Users on the ready list, reply runs queued, and reply jobs that failed for good (for operators)."""
        with self.connection.pipeline(transaction=False) as pipeline:
            pipeline.llen(READY_KEY)
            pipeline.llen(self.queue.key)
            pipeline.zcard(FailedJobRegistry(queue=self.queue).key)
            ready, queued, failed = pipeline.execute()
        return {"ready_users": ready, "queued_jobs": queued, "failed_jobs": failed,
                "workers": self.connection.scard(WORKERS_BY_QUEUE_KEY % REPLIES_QUEUE)}

    def workers_alive(self, within: float = ALIVE_SECONDS) -> tuple[int, int]:
        """(workers registered on `replies`, those with a heartbeat within `within` seconds): a worker killed
        outright stays registered until its key expires (minutes), so the first number alone says little."""
        workers = Worker.all(connection=self.connection, queue=self.queue)
        now = time.time()
        alive = sum(1 for w in workers if w.last_heartbeat and now - w.last_heartbeat.timestamp() < within)
        return len(workers), alive

    def _listening(self) -> int:
        """Workers registered on `replies` (at least 1), re-read every WORKERS_SEEN_SECONDS."""
        count, seen = self._workers
        now = time.monotonic()
        if now - seen >= WORKERS_SEEN_SECONDS:
            count = self.connection.scard(WORKERS_BY_QUEUE_KEY % REPLIES_QUEUE)
            self._workers = (count, now)
        return max(1, count)

    def enqueue_ingest(self) -> None:
        """Schedules a run of the buffered intake (`bot.worker.jobs.ingest_buffered`); overlapping runs are safe."""
        self.intake.enqueue(INGEST_JOB, job_timeout=600, result_ttl=60, failure_ttl=7 * 86400,
                            description="store buffered turns")

    def enqueue_broadcast(self, broadcast_id: int) -> bool:
        """Queues a run of the broadcast unless one is queued already (the run clears the mark when it starts);
        True if it queued one. The mark expires, so a run lost with its worker is queued again."""
        if not self.connection.set(BROADCAST_QUEUED.format(broadcast_id), 1, nx=True, ex=60):
            return False
        self.queue.enqueue(BROADCAST_JOB, broadcast_id, job_timeout=600, result_ttl=60, failure_ttl=7 * 86400,
                           description=f"send broadcast {broadcast_id}")
        return True

    def broadcast_run(self, broadcast_id: int, seconds: float):
        """The broadcast's run lock (acquired, released by the caller), or None when another run holds it; the
        queued mark is cleared, so the next run can be queued while this one works."""
        self.connection.delete(BROADCAST_QUEUED.format(broadcast_id))
        lock = self.connection.lock(BROADCAST_RUNNING.format(broadcast_id), timeout=seconds, blocking=False)
        return lock if lock.acquire() else None

    @staticmethod
    def _run_job():
        return Queue.prepare_data(RUN_JOB, (), description="answer the users waiting for a reply",
                                  **REPLY_OPTIONS)


class ThreadTaskQueue:
    """Runs jobs one at a time in a daemon thread of this process, inside the app's context."""

    def __init__(self, context: AppContext, reply: Callable[[int], object]) -> None:
        self.context = context
        self.reply = reply
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
        while True:
            user_id = self._jobs.get()
            try:
                with self.context():
                    self.reply(user_id)
            except Exception:  # a job's failure must not stop the embedded worker
                log.exception("embedded job failed user_id=%s", user_id)
            finally:
                self._jobs.task_done()

    def join(self) -> None:
        """Waits until every queued job has run (used by tests and the chat's local mode)."""
        self._jobs.join()


class ThreadClock:
    """The embedded mode's clock: a daemon thread that runs the reminder sweep, and queues turns left
    unanswered (a restart while they waited), every `interval` seconds.

    It waits one interval before the first sweep, so a short command (`flask db upgrade`) never sweeps. Every
    web process running one is safe: each reminder is claimed in the database before it is sent.
    """

    def __init__(self, context: AppContext, interval: float, sweep: Callable[[], object]) -> None:
        self.context = context
        self.interval = interval
        self.sweep = sweep
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
        while not self._stopped.wait(self.interval):
            try:
                with self.context():
                    self.sweep()
            except Exception:  # a failed sweep must not stop the clock; the next one retries
                log.exception("embedded reminder sweep failed")
