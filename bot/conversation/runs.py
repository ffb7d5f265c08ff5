"""Reply runs: answering the users with new turns, one user at a time, each under the user's lock.

`Replier.answer_ready_users` takes users off the ready list (bot/core/queue.py) until it is empty or its time
budget is spent; `Replier.reply_to_user` answers every turn of one user that awaits a reply, oldest first. The
jobs in bot/worker/jobs.py (and the embedded mode's thread) call them.

Per-user order across any number of workers: `reply_to_user` holds the user's lock while it drains the
user's pending turns. When it finds the lock taken it returns at once (a run moves on to its next user),
leaving a mark that the holder's release reports: the holder then checks for new turns once more after
releasing it (without a mark it need not — a turn queued later finds the lock free; bot/core/locks.py). So
turns are answered in arrival order, each once, and no turn is left behind.
"""
from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Protocol

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.conversation.answering import Answerer
from bot.conversation.pending import next_turn, pending_turns, stale_turns
from bot.core.db import db
from bot.core.locks import LocalLocks, RedisLocks, UserLock
from models import Message
from models.base import utcnow

log = logging.getLogger(__name__)

RUN_BUDGET_SECONDS = 5.0  # a reply run hands over after this, so its worker takes buffered turns in between
LOST_GRACE_SECONDS = 5.0  # a turn younger than this may be on its way to the ready list (stored, not yet pushed)


class ReplyQueue(Protocol):
    """What reply runs need of the queue (bot/core/queue.py; the embedded queue has no ready list)."""

    def enqueue_replies(self, turns: list[tuple[int, int]]) -> None: ...
    def take_ready_user(self, locks) -> tuple[int, UserLock] | None: ...
    def wait_ready_user(self, locks, seconds: float) -> tuple[int, UserLock] | None: ...
    def return_ready_user(self, user_id: int) -> None: ...
    def hand_over(self) -> bool: ...


class Replier:
    """Answers users' pending turns in order, under their locks."""

    def __init__(self, queue: ReplyQueue, locks: RedisLocks | LocalLocks, answerer: Answerer,
                 lock_seconds: float) -> None:
        self.queue = queue
        self.locks = locks
        self.answerer = answerer
        self.lock_seconds = lock_seconds

    def answer_ready_users(self) -> int:
        """A reply run: answers the users on the ready list, one at a time, until it is empty or the run has
        taken RUN_BUDGET_SECONDS (then it enqueues its successor and ends). Returns how many turns it
        answered."""
        started, answered = time.monotonic(), 0
        while (taken := self.queue.take_ready_user(self.locks)) is not None:
            answered += self._answer_taken(*taken)
            if time.monotonic() - started >= RUN_BUDGET_SECONDS:
                self.queue.hand_over()
                break
        return answered

    def answer_next_user(self, wait_seconds: float) -> int:
        """A reply pump's step (bot/worker/pumps.py): waits up to `wait_seconds` for a user on the ready list
        and answers them; returns how many turns it answered."""
        taken = self.queue.wait_ready_user(self.locks, wait_seconds)
        return self._answer_taken(*taken) if taken is not None else 0

    def _answer_taken(self, user_id: int, lock: UserLock) -> int:
        """Answers a user taken off the ready list with their lock held."""
        try:
            return self.reply_to_user(user_id, held=lock)
        except BaseException:
            lock.release()  # if the failure came before reply_to_user let it go (a second release is a no-op)
            self.queue.return_ready_user(user_id)  # RQ's retry, or another run or pump, answers the user
            raise

    def requeue_stale_turns(self, older_than_seconds: float) -> int:
        """Queues the users with a turn unanswered for longer than `older_than_seconds` (a worker killed in
        the middle of a reply run, a queue flushed, Redis down when the turn came); returns how many.
        A user whose turns are merely waiting behind a long queue costs one lock attempt."""
        with db.session_scope() as session:
            waiting = stale_turns(session, timedelta(seconds=older_than_seconds))
        if waiting:
            self.queue.enqueue_replies(waiting)
            log.warning("requeued %d user(s) with turns unanswered for over %ss", len(waiting), older_than_seconds)
        return len(waiting)

    def requeue_lost_users(self, older_than_seconds: float | None = None) -> int:
        """Queues the users with a turn waiting longer than `older_than_seconds` (LOST_GRACE_SECONDS) whom
        nobody will answer: not on the ready list, and their lock free (its holder was killed and the lock ran
        out). Unlike `requeue_stale_turns`, a user merely waiting in a long queue is left alone, so this can
        run every few seconds. Returns how many users it queued (0 without a ready list: the embedded mode)."""
        if not hasattr(self.queue, "lost_users"):
            return 0
        with db.session_scope() as session:
            waiting = stale_turns(session, timedelta(seconds=LOST_GRACE_SECONDS if older_than_seconds is None
                                                         else older_than_seconds))
        lost = self.queue.lost_users(waiting, self.locks)
        if lost:
            self.queue.enqueue_replies(lost)
            log.warning("requeued %d user(s) whose reply run was lost (a worker killed?)", len(lost))
        return len(lost)

    def reply_to_user(self, user_id: int, held: UserLock | None = None) -> int:
        """Answers the user's pending turns.

        Args:
            user_id: the user whose turns to answer.
            held: the user's lock, already taken (a reply run takes it with the user off the ready list).
        Returns:
            How many turns this run answered (0 when another worker holds the user).
        """
        answered = 0
        with db.job_session() as session:  # one session for the whole job: each step still commits its own work
            while True:
                lock = _RenewWhenDue(held or self.locks.for_user(user_id), self.lock_seconds)
                if held is not None:
                    lock.taken_now()
                    held = None  # a second round takes the lock itself
                elif not lock.acquire():
                    return answered
                try:
                    answered += _drain(session, self.answerer, user_id, lock)
                except BaseException:
                    session.rollback()  # before the lock goes, so the next holder meets no half-written turn
                    lock.release()
                    raise
                # after the release (module docstring), and only if someone tried to take the user meanwhile
                if not lock.release() or not pending_turns(session, user_id):
                    return answered


class _RenewWhenDue:
    """The user's lock, renewed between steps only once a tenth of its time-to-live has passed since it was
    taken or last renewed: renewing it moments after taking it (a quick answer's first part) is a Redis round
    trip that changes nothing, and a part still starts with at least 90 % of the time-to-live left. The
    process's `LockKeeper` (bot/core/locks.py) keeps the lock alive during long steps (an LLM call); this
    renewal is the check, before each part is sent, that the lock is still ours."""

    def __init__(self, lock: UserLock, ttl_seconds: float) -> None:
        self._lock, self._every, self._at = lock, ttl_seconds / 10, 0.0

    def acquire(self) -> bool:
        self._at = time.monotonic()
        return self._lock.acquire()

    def taken_now(self) -> None:
        """For a lock the caller has just taken some other way (with the user, off the ready list)."""
        self._at = time.monotonic()

    def release(self) -> bool:
        return self._lock.release()

    def renew(self) -> None:
        now = time.monotonic()
        if now - self._at >= self._every:
            self._lock.renew()
            self._at = now


def _drain(session: Session, answerer: Answerer, user_id: int, lock: UserLock) -> int:
    """Answers the user's turns oldest first while holding their lock; returns how many. Each turn's last
    writes are committed together with the read of the next turn. After a turn that was the only one waiting
    when it was read, no read is spent looking for another: the check after the lock's release (which
    correctness needs anyway) finds a turn that came meanwhile, and the job takes the lock again for it."""
    answered = 0
    turn = next_turn(session, user_id)  # its transaction goes on into the answer: nothing written yet
    while turn is not None:
        inbound_id, alone = turn.message.id, turn.waiting == 1
        try:
            answerer.answer(session, turn, lock)
        except Exception as exc:  # a bug must not block this user's later turns, nor leave them in silence
            session.rollback()
            log.exception("turn failed message_id=%s user_id=%s", inbound_id, user_id)
            _answer_failed_turn(session, answerer, inbound_id, lock, exc)
        answered += 1
        turn = None if alone else next_turn(session, user_id)
        session.commit()  # the answered turn's last writes, with the read of the next one
    session.commit()
    return answered


def _answer_failed_turn(session: Session, answerer: Answerer, inbound_id: int, lock: UserLock,
                        exc: Exception) -> None:
    error = f"{type(exc).__name__}: {exc}"
    try:
        answerer.answer_after_failure(session, inbound_id, lock, error)
    except Exception:  # even the apology failed (the database or Twilio is down): record it
        session.rollback()
        log.exception("fallback after failure failed message_id=%s", inbound_id)
        _mark_turn_failed(session, inbound_id, exc)


def _mark_turn_failed(session: Session, message_id: int, exc: Exception) -> None:
    session.execute(update(Message).where(Message.id == message_id)
                    .values(status="failed", error_message=f"{type(exc).__name__}: {exc}"[:1000],
                            updated_at=utcnow()))
    session.commit()
