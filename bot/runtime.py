"""The app's collaborators (settings, sender, language model, queue, locks), built once per app.

Built by the factory, never at import time; web requests, jobs and commands reach them with `runtime()`.
"""
from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import Flask, current_app

from bot.assistant import Assistant
from bot.channels import Sender, make_sender
from bot.intake_buffer import IntakeBuffer
from bot.knowledge import KnowledgeCache
from bot.llm import LanguageModel, make_llm
from bot.locks import LocalLocks, RedisLocks
from bot.queue import RQTaskQueue, TaskQueue, ThreadClock, ThreadTaskQueue
from bot.settings import Settings


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
    clock: ThreadClock | None = None  # embedded mode only: the reminder sweep's thread
    intake_buffer: IntakeBuffer | None = None  # INTAKE_MODE=buffered with Redis

    def init_app(self, app: Flask) -> None:
        app.extensions["runtime"] = self


def build_runtime(app: Flask, settings: Settings) -> Runtime:
    if settings.redis_url:
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5,
                                      health_check_interval=30)
        queue, locks = RQTaskQueue(client), RedisLocks(client, settings.user_lock_seconds)
    else:
        client, queue, locks = None, ThreadTaskQueue(app), LocalLocks()
    llm = make_llm(settings)
    return Runtime(settings=settings, sender=make_sender(settings), llm=llm, queue=queue, locks=locks,
                   redis=client, knowledge=KnowledgeCache(settings.match_high, settings.match_low),
                   assistant=Assistant(llm, settings), clock=_embedded_clock(app, settings),
                   intake_buffer=IntakeBuffer(client) if settings.buffered_intake else None)


def _embedded_clock(app: Flask, settings: Settings) -> ThreadClock | None:
    """With Redis, `python -m bot.clock` schedules the sweep; without, a thread of this process runs it
    (REMINDER_CHECK_SECONDS=0 turns it off)."""
    if settings.redis_url or settings.reminder_check_seconds <= 0:
        return None
    return ThreadClock(app, settings.reminder_check_seconds).start()


def runtime() -> Runtime:
    return current_app.extensions["runtime"]
