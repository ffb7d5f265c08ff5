"""A transaction that PostgreSQL aborted to break a deadlock (40P01) or a serialization failure (40001) is run
again, after a short jittered pause: the error is the other transaction's timing, not this one's data, and
the rolled-back attempt left nothing behind. Every other error is the caller's."""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)
T = TypeVar("T")

TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
ATTEMPTS = 6
FIRST_PAUSE = 0.05  # seconds; doubles per attempt, each pause drawn from 50–150 % of it


def is_transient(exc: BaseException) -> bool:
    """True for a database error that running the same transaction again can cure."""
    return isinstance(exc, sa_exc.DBAPIError) and getattr(exc.orig, "pgcode", None) in TRANSIENT_SQLSTATES


def in_transaction(engine: Engine, work: Callable[[Connection], T], attempts: int = ATTEMPTS) -> T:
    """Runs `work` in a transaction of its own (committed when it returns) and runs it again, up to `attempts`
    times in all, when PostgreSQL aborts it as a deadlock victim or a serialization failure.

    Returns:
        What `work` returned on the attempt that committed.
    Raises:
        The last transient error once `attempts` are spent; any other error at once.
    """
    for attempt in range(1, attempts):
        try:
            with engine.begin() as connection:
                return work(connection)
        except sa_exc.DBAPIError as exc:
            if not is_transient(exc):
                raise
            pause = FIRST_PAUSE * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
            log.warning("transaction retried attempt=%d sqlstate=%s pause=%.3fs", attempt, exc.orig.pgcode, pause)
            time.sleep(pause)
    with engine.begin() as connection:  # the last attempt: its error, transient or not, is the caller's
        return work(connection)
