"""The buffered intake's job: move turns from Redis into PostgreSQL in arrival order, then queue replies.

See bot/intake/buffer.py for the protocol. Runs as the job `bot.worker.jobs.ingest_buffered` on the `intake`
queue (workers listen to it first). One run at a time holds the intake lock; a run that finds it taken ends,
because the holder looks at the buffer once more after releasing it — the same hand-over as the reply runs.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Protocol

from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.intake.batch import store_inbound_batch
from bot.intake.buffer import BufferedTurn, IntakeBuffer, decode
from bot.intake.retry import in_transaction
from bot.intake.store import store_inbound
from models import Message

log = logging.getLogger(__name__)

BATCH_SIZE = 200


class ReplyQueue(Protocol):
    def enqueue_replies(self, turns: list[tuple[int, int]]) -> None:
        """Queues a reply for each (user id, newest such turn id)."""


def ingest_buffered(buffer: IntakeBuffer, engine: Engine, queue: ReplyQueue, idle_gap: timedelta) -> int:
    """Stores every buffered turn and enqueues the replies.

    Args:
        buffer: the Redis side of the buffered intake.
        engine: the database the turns go to.
        queue: where the replies are queued once their turns are stored.
        idle_gap: silence after which a turn opens a new conversation.
    Returns:
        How many items this run took off the buffer (stored, duplicates and dead letters).
    """
    taken = 0
    while True:
        lock = buffer.lock()
        if not lock.acquire(blocking=False):
            return taken
        try:
            buffer.clear_scheduled()
            taken += _drain(buffer, lock, engine, queue, idle_gap)
        finally:
            try:
                lock.release()
            except Exception:  # expired and maybe taken over: nothing of ours to release
                log.warning("intake lock had expired before release")
            # A push during the drain set the flag again and its job found the lock taken and ended: that
            # push relies on us. Clear the flag before looking at the buffer, so a push after our look
            # schedules a job of its own (a stale flag would hold later pushes back until it expires).
            buffer.clear_scheduled()
        if buffer.size() == 0:
            return taken


def _drain(buffer: IntakeBuffer, lock, engine: Engine, queue: ReplyQueue, idle_gap: timedelta) -> int:
    taken = 0
    while True:
        raw = buffer.peek(BATCH_SIZE)
        if not raw:
            return taken
        turns = _decoded(buffer, raw)
        try:
            _store_batch(engine, turns, idle_gap)
        except _Unavailable:
            raise
        except Exception:  # one bad turn must not hold up the rest: store them one by one
            log.exception("batch of %d buffered turns failed; storing one by one", len(turns))
            turns = [(item, turn) for item, turn in turns if _store_alone(engine, buffer, item, turn, idle_gap)]
        # replies are queued before the items leave Redis: a crash in between re-stores nothing (unique
        # MessageSid) and queues the replies again, which only finds the turns already answered
        queue.enqueue_replies(_awaiting_reply(engine, [turn.turn.channel_message_id for _, turn in turns]))
        lock.reacquire()  # raises if the lock expired and another run took over: it stores these turns too
        buffer.drop(raw)
        taken += len(raw)
        log.info("ingested %d buffered turn(s)", len(raw))


class _Unavailable(Exception):
    """PostgreSQL is unreachable: the job fails and every item stays in Redis for the next run."""


def _decoded(buffer: IntakeBuffer, raw: list[bytes]) -> list[tuple[bytes, BufferedTurn]]:
    turns = []
    for item in raw:
        try:
            turns.append((item, decode(item)))
        except (ValueError, KeyError, TypeError) as exc:
            log.error("undecodable buffered turn dead-lettered: %s", exc)
            buffer.dead_letter(item, f"{type(exc).__name__}: {exc}")
    return turns


def _store_batch(engine: Engine, turns: list[tuple[bytes, BufferedTurn]], idle_gap: timedelta) -> None:
    """Stores the turns in one transaction, run again when PostgreSQL aborts it as a deadlock victim (40P01)
    or a serialization failure (40001): such an error says nothing about the turns, so it never splits the
    batch or dead-letters a turn. Unreachable, or still aborted after the retries: `_Unavailable`."""
    def store(connection) -> None:
        if len(turns) == 1:
            [(_, buffered)] = turns
            store_inbound(connection, buffered.turn, idle_gap, now=buffered.received_at)
        else:
            store_inbound_batch(connection, [(b.turn, b.received_at) for _, b in turns], idle_gap)

    try:
        in_transaction(engine, store)
    except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
        raise _Unavailable(str(exc)) from exc  # psycopg2 raises 40P01 and 40001 as OperationalError


def _store_alone(engine: Engine, buffer: IntakeBuffer, item: bytes, buffered: BufferedTurn,
                 idle_gap: timedelta) -> bool:
    try:
        _store_batch(engine, [(item, buffered)], idle_gap)
        return True
    except _Unavailable:
        raise
    except Exception as exc:  # kept in the dead-letter list with its error, never dropped
        log.exception("buffered turn dead-lettered message_sid=%s", buffered.turn.channel_message_id)
        buffer.dead_letter(item, f"{type(exc).__name__}: {exc}")
        return False


def _awaiting_reply(engine: Engine, sids: list[str]) -> list[tuple[int, int]]:
    """(user id, latest such turn) for each user with one of these turns still unanswered: one reply job per
    user is enough, since a job answers all of its user's waiting turns in order."""
    if not sids:
        return []
    with engine.connect() as connection:
        rows = connection.execute(select(Message.user_id, Message.id)
                                  .where(Message.twilio_sid.in_(sids), Message.direction == "inbound",
                                         Message.status == "received")).all()
    latest: dict[int, int] = {}
    for user_id, message_id in rows:
        latest[user_id] = max(message_id, latest.get(user_id, 0))
    return list(latest.items())
