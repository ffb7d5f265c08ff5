"""Liveness (`/healthz`, no I/O) and readiness (`/readyz`: database and Redis reachable, and a view of the
queue: how long the oldest unanswered turn has waited, where the turns are, and how many workers are alive).

The queue view never makes /readyz fail (a long queue is no reason to take this web process out of rotation);
it is what an operator, or an alert on `oldest_unanswered_seconds`, looks at (docs/operations.md).
"""
from __future__ import annotations

import json
import logging
import time

from flask import Blueprint, current_app, jsonify
from sqlalchemy import func, select, text

from bot.core.db import db
from bot.intake.buffer import BUFFER_KEY
from bot.wiring import runtime
from models import Message
from models.base import utcnow

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)
VIEW_SECONDS = 5.0


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks = {"database": _database_ok(), "redis": _redis_ok()}
    down = [name for name, ok in checks.items() if ok is False]
    body = {"status": "ok" if not down else "unavailable", "down": down,
            "checks": {name: ("ok" if ok else "down" if ok is False else "not configured")
                       for name, ok in checks.items()},
            "queue": _queue_view(database=checks["database"], redis_up=checks["redis"])}
    return jsonify(body), (503 if down else 200)


def _queue_view(database: bool, redis_up: bool | None) -> dict:
    """The oldest unanswered turn's age in seconds (stored and still `received`, or still in the intake
    buffer), the turns in the buffer, users on the ready list, and the workers registered and alive.
    What cannot be read (a store down) is left out. Reused for VIEW_SECONDS by this app: finding the oldest
    stored turn reads the messages table, and probes come every few seconds from every load balancer."""
    stores, now = (database, redis_up), time.monotonic()
    at, seen_with, view = current_app.extensions.get("queue_view", (float("-inf"), None, {}))
    if now - at >= VIEW_SECONDS or seen_with != stores:
        view = _read_queue_view(database, redis_up)
        current_app.extensions["queue_view"] = (now, stores, view)
    return view


def _read_queue_view(database: bool, redis_up: bool | None) -> dict:
    view: dict = {}
    waited = []
    if database:
        waited.append(_oldest_stored_turn_age())
    if redis_up:
        rt = runtime()
        waited.append(_oldest_buffered_turn_age(rt.redis))
        try:
            status = rt.queue.status()
            registered, alive = rt.queue.workers_alive()
            view.update(buffered=rt.redis.llen(BUFFER_KEY), ready_users=status["ready_users"],
                        queued_jobs=status["queued_jobs"], workers_registered=registered, workers_alive=alive)
        except Exception as exc:  # informational only
            log.warning("readyz: queue view failed: %s", exc)
    known = [age for age in waited if age is not None]
    view["oldest_unanswered_seconds"] = round(max(known), 1) if known else None
    return view


def _oldest_stored_turn_age() -> float | None:
    try:
        with db.engine.connect() as connection:
            oldest = connection.execute(select(func.min(Message.created_at))
                                        .where(Message.direction == "inbound", Message.status == "received")).scalar()
    except Exception as exc:  # informational only
        log.warning("readyz: oldest turn unknown: %s", exc)
        return None
    if oldest is None:
        return 0.0
    now = utcnow()
    if oldest.tzinfo is None:
        now = now.replace(tzinfo=None)
    return max(0.0, (now - oldest).total_seconds())


def _oldest_buffered_turn_age(client) -> float | None:
    try:
        head = client.lindex(BUFFER_KEY, 0)
        return max(0.0, time.time() - float(json.loads(head)["at"])) if head else 0.0
    except Exception as exc:  # informational only
        log.warning("readyz: oldest buffered turn unknown: %s", exc)
        return None


def _database_ok() -> bool:
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception as exc:  # any failure means not ready
        log.warning("readyz: database down: %s", exc)
        return False


def _redis_ok() -> bool | None:
    client = runtime().redis
    if client is None:
        return None
    try:
        return bool(client.ping())
    except Exception as exc:  # any failure means not ready
        log.warning("readyz: redis down: %s", exc)
        return False


def init_app(app) -> None:
    app.register_blueprint(bp)
