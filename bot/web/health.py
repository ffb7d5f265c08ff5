"""Liveness (`/healthz`, no I/O) and readiness (`/readyz`: database and Redis reachable)."""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy import text

from bot.core.db import db
from bot.wiring import runtime

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks = {"database": _database_ok(), "redis": _redis_ok()}
    down = [name for name, ok in checks.items() if ok is False]
    body = {"status": "ok" if not down else "unavailable", "down": down,
            "checks": {name: ("ok" if ok else "down" if ok is False else "not configured")
                       for name, ok in checks.items()}}
    return jsonify(body), (503 if down else 200)


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
