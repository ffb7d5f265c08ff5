"""The Runtime: the app's collaborators (settings, sender, language model, queue, locks, matcher, ...), built
once per app by the factory, never at import time.

Only entry points (`bot.web`, `bot.worker`, `bot.ops`, `bot.app`) build or fetch it, with `runtime()`; every
other package receives what it needs as arguments.
"""
from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import Flask, current_app

from bot.campaigns.broadcasts import BroadcastRunner, active_broadcasts, send_due_summaries
from bot.campaigns.pacing import LocalPacer, RedisPacer
from bot.campaigns.reminders import send_due_reminders
from bot.channels import Sender, make_sender
from bot.conversation.answering import Answerer
from bot.conversation.runs import Replier
from bot.core.db import db
from bot.core.locks import LocalLocks, RedisLocks
from bot.core.queue import RQTaskQueue, TaskQueue, ThreadClock, ThreadTaskQueue
from bot.core.rate_limit import TurnCounter
from bot.core.settings import Settings
from bot.delivery.sending import Dispatcher
from bot.intake.buffer import IntakeBuffer
from bot.llm.assistant import Assistant
from bot.llm.client import LanguageModel, make_llm
from bot.nlu.knowledge_cache import KnowledgeCache
from models.base import utcnow


@dataclass
class Runtime:
    settings: Settings
    sender: Sender
    llm: LanguageModel | None
    queue: TaskQueue
    locks: RedisLocks | LocalLocks
    redis: redis.Redis | None
    knowledge: KnowledgeCache
    assistant: Assistant
    dispatcher: Dispatcher
    answerer: Answerer
    replier: Replier
    broadcasts: BroadcastRunner | None = None
    clock: ThreadClock | None = None  # embedded mode only: the periodic sweep's thread
    broadcast_clock: ThreadClock | None = None  # embedded mode only: sends confirmed broadcasts
    intake_buffer: IntakeBuffer | None = None  # INTAKE_MODE=buffered with Redis

    def init_app(self, app: Flask) -> None:
        app.extensions["runtime"] = self


def build_runtime(app: Flask, settings: Settings) -> Runtime:
    """The collaborators for `settings`. Without Redis, replies run in a thread of this process and a second
    thread sweeps for due reminders and unanswered turns."""
    if settings.redis_url:
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5,
                                      health_check_interval=30)
        queue, locks = RQTaskQueue(client), RedisLocks(client, settings.user_lock_seconds)
    else:  # the thread calls the replier built below
        client, locks = None, LocalLocks()
        queue = ThreadTaskQueue(app.app_context, lambda user_id: replier.reply_to_user(user_id))
    llm, sender = make_llm(settings), make_sender(settings)
    knowledge = KnowledgeCache(settings.match_high, settings.match_low)
    assistant = Assistant(llm, settings)
    dispatcher = Dispatcher(sender, settings)
    answerer = Answerer(knowledge, assistant, settings, dispatcher, TurnCounter(client) if client else None)
    replier = Replier(queue, locks, answerer, settings.user_lock_seconds)
    broadcasts = _broadcast_runner(client, settings, dispatcher)
    return Runtime(settings=settings, sender=sender, llm=llm, queue=queue, locks=locks, redis=client,
                   knowledge=knowledge, assistant=assistant, dispatcher=dispatcher, answerer=answerer,
                   replier=replier, clock=_embedded_clock(app, settings, dispatcher, replier),
                   broadcasts=broadcasts, broadcast_clock=_embedded_broadcasts(app, settings, dispatcher, broadcasts),
                   intake_buffer=_intake_buffer(client, locks, settings))


def _intake_buffer(client: redis.Redis | None, locks, settings: Settings) -> IntakeBuffer | None:
    """The buffered intake, whose lock the user locks' keeper renews (one renewal thread per process)."""
    if not settings.buffered_intake:
        return None
    return IntakeBuffer(client, settings.user_lock_seconds, keeper=locks.keeper)


def _embedded_clock(app: Flask, settings: Settings, dispatcher: Dispatcher, replier: Replier) -> ThreadClock | None:
    """With Redis, `python -m bot.worker.clock` schedules the sweeps; without, a thread of this process runs
    them: reminders due, then turns left unanswered (a restart while they waited). REMINDER_CHECK_SECONDS=0
    turns it off."""
    if settings.redis_url or settings.reminder_check_seconds <= 0:
        return None

    def sweep() -> None:
        with db.session_scope() as session:
            send_due_reminders(session, settings, dispatcher)
        replier.requeue_stale_turns(settings.requeue_after_seconds)

    return ThreadClock(app.app_context, settings.reminder_check_seconds, sweep).start()


def _broadcast_runner(client: redis.Redis | None, settings: Settings, dispatcher: Dispatcher) -> BroadcastRunner:
    """Paced on Redis's clock for every worker, or in this process; a few sends in flight on PostgreSQL (a REST
    call takes longer than a slot), one at a time on SQLite (one writer)."""
    pacer = RedisPacer(client, settings.broadcast_mps) if client else LocalPacer(settings.broadcast_mps)
    threads = 1 if settings.database_url.startswith("sqlite") else min(8, max(1, round(settings.broadcast_mps / 4)))
    return BroadcastRunner(settings, dispatcher, pacer, db.session_scope, threads)


def _embedded_broadcasts(app: Flask, settings: Settings, dispatcher: Dispatcher,
                         runner: BroadcastRunner) -> ThreadClock | None:
    """Without Redis, a thread of this process sends confirmed broadcasts and their summaries."""
    if settings.redis_url or settings.broadcast_check_seconds <= 0:
        return None

    def sweep() -> None:
        with db.session_scope() as session:
            active = active_broadcasts(session, utcnow())
        for broadcast_id in active:
            runner.run(broadcast_id, 30)
        with db.session_scope() as session:
            send_due_summaries(session, dispatcher, settings)
    return ThreadClock(app.app_context, settings.broadcast_check_seconds, sweep).start()


def runtime() -> Runtime:
    """The current app's Runtime (inside an app context: a request, a job, a command)."""
    return current_app.extensions["runtime"]
