"""The clock: `python -m bot.worker.clock` (the Procfile's `clock:`) enqueues periodic jobs for the RQ workers.

It builds the app once and runs RQ's cron scheduler, which enqueues `bot.worker.jobs.send_reminders` on the
`replies` queue every REMINDER_CHECK_SECONDS, and, with the buffered intake, `bot.worker.jobs.ingest_buffered`
on the `intake` queue every INTAKE_SWEEP_SECONDS, and `bot.worker.jobs.requeue_stale_turns` (turns left
unanswered for REQUEUE_AFTER_SECONDS, whose reply run was lost) every REQUEUE_CHECK_SECONDS; a thread of its
own queues the users with waiting turns whom no run holds or will take (their worker was killed) every
LOST_CHECK_SECONDS. Running two clocks by mistake costs an extra sweep, never a duplicate reminder: each
reminder is claimed in the database before it is sent.

RQ's scheduler loop ends on the first Redis error (Redis restarting, a failover): `run_until_stopped` starts a
fresh scheduler after a pause of 1 s doubling to 30 s, so the clock outlives an outage; only SIGINT/SIGTERM
stop it.
"""
from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Callable

import redis
from flask import Flask
from redis import Redis
from rq import Queue, cron_job_registry
from rq.cron import CronJob, CronScheduler
from rq.defaults import DEFAULT_CRON_JOB_HISTORY_LIMIT, DEFAULT_CRON_JOB_HISTORY_TTL
from rq.exceptions import StopRequested
from rq.job import Job
from rq.serializers import JSONSerializer

from bot.app import create_app
from bot.campaigns.broadcasts import active_broadcasts, send_due_summaries
from bot.core.db import db
from bot.core.errors import ConfigurationError
from bot.core.queue import INTAKE_QUEUE, REPLIES_QUEUE
from bot.core.settings import Settings
from bot.wiring import runtime
from bot.worker.jobs import ingest_buffered, requeue_stale_turns, send_reminders
from models.base import utcnow

log = logging.getLogger(__name__)

SWEEP_TIMEOUT_SECONDS = 600
BACKOFF_SECONDS = (1.0, 30.0)


class JSONCronJob(CronJob):
    """A cron job enqueued with the JSON serializer our workers read.

    rq 2.12's `CronJob.enqueue` builds its queue with the default (pickle) serializer, which a worker
    started with `JSONSerializer` cannot load. The bookkeeping below is upstream's (job history and the
    cron registry that `rq cron` monitoring reads); only the serializer differs. tests/campaigns/test_reminders.py runs
    a cron-enqueued job through a real worker, so an rq upgrade that changes this shows up there.
    """

    def enqueue(self, connection: Redis) -> Job:
        queue = Queue(self.queue_name, connection=connection, serializer=JSONSerializer)
        with connection.pipeline() as pipeline:
            job = queue.enqueue(self.func, *self.args, **self.kwargs, **self.job_options, pipeline=pipeline)
            pipeline.zadd(self.job_history_key, {job.id: job.enqueued_at.timestamp()})
            pipeline.zremrangebyrank(self.job_history_key, 0, -(DEFAULT_CRON_JOB_HISTORY_LIMIT + 1))
            pipeline.expire(self.job_history_key, DEFAULT_CRON_JOB_HISTORY_TTL)
            cron_job_registry.add(self.name, pipeline, enqueue_timestamp=job.enqueued_at.timestamp())
            pipeline.execute()
        log.info("enqueued cron job %s on %s job_id=%s", self.name, self.queue_name, job.id)
        return job


class JSONCronScheduler(CronScheduler):
    """RQ's cron scheduler whose jobs are `JSONCronJob`s."""

    def register(self, func, queue_name: str, **options) -> CronJob:
        cron_job = JSONCronJob(queue_name=queue_name, func=func, **options)
        self._cron_jobs.append(cron_job)  # what CronScheduler.register does with the CronJob it builds
        log.info("registered cron job %s on %s every %ss", cron_job.name, queue_name, cron_job.interval)
        return cron_job


def build_scheduler(connection: Redis, settings: Settings) -> CronScheduler:
    """The scheduler with the reminder sweep registered; not started.

    A sweep still queued one interval later is dropped (`ttl`): the next one does the same work, so a
    stopped worker does not come back to a pile of identical jobs.
    """
    if settings.reminder_check_seconds <= 0:
        raise ConfigurationError("REMINDER_CHECK_SECONDS must be positive for the clock to run")
    scheduler = JSONCronScheduler(connection=connection)
    scheduler.register(send_reminders, REPLIES_QUEUE, interval=settings.reminder_check_seconds,
                       job_timeout=SWEEP_TIMEOUT_SECONDS, ttl=settings.reminder_check_seconds,
                       result_ttl=settings.reminder_check_seconds * 2, failure_ttl=7 * 86400)
    if settings.buffered_intake and settings.intake_sweep_seconds > 0:
        # a safety net only: every webhook that finds no ingest scheduled enqueues one itself
        scheduler.register(ingest_buffered, INTAKE_QUEUE, interval=settings.intake_sweep_seconds,
                           job_timeout=SWEEP_TIMEOUT_SECONDS, ttl=settings.intake_sweep_seconds,
                           result_ttl=settings.intake_sweep_seconds * 2, failure_ttl=7 * 86400)
    if settings.requeue_check_seconds > 0:
        # a safety net too: a worker killed outright loses the user it had taken off the ready list
        scheduler.register(requeue_stale_turns, REPLIES_QUEUE, args=(settings.requeue_after_seconds,),
                           interval=settings.requeue_check_seconds, job_timeout=SWEEP_TIMEOUT_SECONDS,
                           ttl=settings.requeue_check_seconds, result_ttl=settings.requeue_check_seconds * 2,
                           failure_ttl=7 * 86400)
    return scheduler


def sweep_lost_users(app: Flask) -> int:
    """One round of the lost-user sweep; returns how many users it queued again. It also queues a reply run
    for users left on the ready list when no worker's pumps are alive to take them (bot/worker/pumps.py)."""
    with app.app_context():
        rt = runtime()
        lost = rt.replier.requeue_lost_users()
        rt.queue.nudge()
        return lost


def sweep_broadcasts(app: Flask) -> int:
    """Queues a run for every broadcast with recipients left (unless one is queued), and sends the summaries
    that are due; returns how many runs it queued."""
    with app.app_context():
        rt = runtime()
        with db.session_scope() as session:
            active = active_broadcasts(session, utcnow())
            send_due_summaries(session, rt.dispatcher, rt.settings)
        return sum(rt.queue.enqueue_broadcast(broadcast_id) for broadcast_id in active)


def start_periodic(app: Flask, seconds: float, sweep: Callable[[Flask], int], name: str) -> threading.Thread | None:
    """Runs `sweep(app)` every `seconds` in a thread of the clock (not an RQ job: a round is a query or two,
    and a job every few seconds would cost more than it does); errors are logged and the next round retries."""
    if seconds <= 0:
        return None

    def run() -> None:
        while True:
            time.sleep(seconds)
            try:
                sweep(app)
            except Exception as exc:  # Redis or PostgreSQL away: the next round tries again
                log.warning("%s failed: %s", name, exc)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def start_lost_user_sweep(app: Flask, seconds: float) -> threading.Thread | None:
    """Every `seconds`, queues the users with waiting turns whom no run holds or will take — a killed worker's
    users, once their locks run out (USER_LOCK_SECONDS)."""
    return start_periodic(app, seconds, sweep_lost_users, "lost-user-sweep")


def main() -> int:
    try:
        app = create_app()
    except ConfigurationError as exc:
        log.error("bot clock: configuration error: %s", exc)
        return 2
    with app.app_context():
        rt = runtime()
        if rt.redis is None:
            log.error("bot clock: REDIS_URL is not set; the embedded mode sweeps reminders inside the web process")
            return 2
        try:
            scheduler = build_scheduler(rt.redis, rt.settings)
        except ConfigurationError as exc:
            log.error("bot clock: configuration error: %s", exc)
            return 2
        start_lost_user_sweep(app, rt.settings.lost_check_seconds)
        start_periodic(app, rt.settings.broadcast_check_seconds, sweep_broadcasts, "broadcast-sweep")
        built = [scheduler]  # the first, built above to check the settings; then a fresh one after each error
        run_until_stopped(lambda: built.pop() if built else build_scheduler(rt.redis, rt.settings))
    return 0


def run_until_stopped(build: Callable[[], CronScheduler], sleep: Callable[[float], None] = time.sleep) -> None:
    """Runs a scheduler until SIGINT/SIGTERM, replacing it after each Redis error."""
    pause = BACKOFF_SECONDS[0]
    while True:
        started = time.monotonic()
        try:
            build().start()  # returns after a stop request (RQ's handlers raise StopRequested inside it)
            return
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            if time.monotonic() - started > 60:
                pause = BACKOFF_SECONDS[0]
            log.error("bot clock: Redis error (%s); starting again in %.0fs", exc, pause)
        try:
            sleep(pause)
        except StopRequested:  # a signal during the pause: RQ's handler is still installed
            return
        pause = min(pause * 2, BACKOFF_SECONDS[1])


if __name__ == "__main__":
    sys.exit(main())
