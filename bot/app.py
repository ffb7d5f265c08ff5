"""The application factory: settings, database, runtime, webhooks, health checks and commands, one `init_app`
each; error handlers and logging."""
from __future__ import annotations

import logging
import os

from flask import Flask, jsonify
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from bot.core.db import db
from bot.core.errors import MalformedRequest
from bot.core.settings import INSTANCE_DIR, Settings
from bot.ops import cli
from bot.web import health, rosters, tickets, webhooks
from bot.wiring import build_runtime

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Flask:
    """Builds the app; raises ConfigurationError naming a missing setting in production."""
    settings = settings or Settings.from_env()
    configure_logging()
    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.session_interface = NoSessions()
    app.config.update(SETTINGS=settings, SECRET_KEY=settings.secret_key,
                      MAX_CONTENT_LENGTH=settings.max_request_bytes, JSON_AS_ASCII=False)
    db.init_app(app)
    build_runtime(app, settings).init_app(app)
    webhooks.init_app(app)
    health.init_app(app)
    tickets.init_app(app)
    rosters.init_app(app)
    cli.init_app(app)
    register_error_handlers(app)
    return app


class NoSessions(SecureCookieSessionInterface):
    """The bot keeps no browser sessions (webhooks, signed ticket links and token-authenticated APIs): Flask's
    default still built a signing serializer and looked for a cookie on every request, a tenth of a status
    callback's CPU. `flask.session` is then Flask's read-only null session."""

    def open_session(self, app: Flask, request) -> None:
        return None


def configure_logging() -> None:
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")


def register_error_handlers(app: Flask) -> None:
    """Clear 4xx answers for bad input; 503 when the database is down; never an HTML error page."""

    @app.errorhandler(MalformedRequest)
    def malformed(exc: MalformedRequest):
        return jsonify(error=str(exc)), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return jsonify(error=exc.name, detail=exc.description), exc.code

    @app.errorhandler(DBAPIError)
    def database_down(exc: DBAPIError):
        db.session.rollback()
        log.error("database error: %s", exc)
        return jsonify(error="database unavailable"), 503
