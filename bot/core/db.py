"""The SQLAlchemy engine and sessions, shared by web requests, jobs and the CLI.

Built per app from settings (never at import time). A web request gets a session that is removed when the
request ends; jobs and commands open their own with `db.session_scope()`.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

from flask import Flask
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from bot.core.settings import INSTANCE_DIR


class Database:
    def __init__(self) -> None:
        self.engine: Engine | None = None
        self._factory: sessionmaker | None = None
        self.session: scoped_session | None = None

    def init_app(self, app: Flask) -> None:
        self.configure(app.config["SETTINGS"].database_url)
        app.extensions["db"] = self
        app.teardown_appcontext(self._remove_session)

    def configure(self, url: str) -> None:
        self.engine = make_engine(url)
        self._factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.session = scoped_session(self._factory)

    def _remove_session(self, exc: BaseException | None = None) -> None:
        if self.session is not None:
            self.session.remove()

    @contextmanager
    def session_scope(self) -> Iterator[Session]:
        """A session for a job or command: commits on success, rolls back on error, always closes."""
        with _committed(self._factory()) as session:
            yield session

    @contextmanager
    def job_session(self) -> Iterator[Session]:
        """`session_scope` on one pooled connection for the whole block. A job commits several times (a reply
        twice per turn); a plain session checks a connection out of the pool and back in for every
        transaction, with the pool's events and reset each time."""
        with self.engine.connect() as connection, _committed(self._factory(bind=connection)) as session:
            yield session

    def dispose_after_fork(self) -> None:
        """A forked child must not reuse the parent's pooled connections."""
        if self.engine is not None:
            self.engine.dispose(close=False)


@contextmanager
def _committed(session: Session) -> Iterator[Session]:
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, pool_size=5, max_overflow=10, pool_recycle=1800)
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


IDLE_PING_SECONDS = 10.0


def _note_checkin(_dbapi_connection, record) -> None:
    record.info["checked_in_at"] = time.monotonic()


def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
    """`pool_pre_ping` costs a round trip on every checkout, several per reply. Connections go stale while
    idle (a database restart, a proxy timeout), so only one idle for a while is pinged; a dead one is
    replaced by the pool (DisconnectionError makes it retry with a fresh connection)."""
    if time.monotonic() - record.info.get("checked_in_at", 0.0) < IDLE_PING_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
    except Exception as exc:  # any failure means this connection is unusable
        raise DisconnectionError(str(exc)) from exc


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


db = Database()
