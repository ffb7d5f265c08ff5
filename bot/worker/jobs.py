"""The background jobs, by the names RQ stores (`bot.worker.jobs.<name>`): each fetches the Runtime of the
worker's app and calls the stage that does the work. Jobs receive ids and numbers, never objects.

    answer_ready_users   a reply run over the ready list (bot/conversation/runs.py)
    reply_to_user        one user's pending turns (queued by earlier releases)
    ingest_buffered      store the turns the webhook buffered in Redis (bot/intake/ingest.py)
    send_reminders       the event reminders that are due (bot/campaigns/reminders.py), from the clock
    requeue_stale_turns  turns whose reply run was lost, from the clock
    send_broadcast       a few seconds of a confirmed broadcast's sending (bot/campaigns/broadcasts.py)

Jobs queued by an earlier release under the flat names (`bot.jobs.*`, `bot.ingest.*`) still run: the worker
maps them here (`bot.worker.main.LEGACY_JOB_NAMES`).
"""
from __future__ import annotations

from contextlib import suppress
from datetime import timedelta

from redis.exceptions import LockError

from bot.campaigns.broadcasts import active_broadcasts
from bot.campaigns.reminders import send_due_reminders
from bot.core.db import db
from bot.intake.ingest import ingest_buffered as ingest
from bot.wiring import runtime
from models.base import utcnow


def answer_ready_users() -> int:
    """A reply run; returns how many turns it answered."""
    return runtime().replier.answer_ready_users()


def reply_to_user(user_id: int) -> int:
    """Answers the user's pending turns; returns how many (0 when another worker holds the user)."""
    return runtime().replier.reply_to_user(user_id)


def requeue_stale_turns(older_than_seconds: float) -> int:
    """Queues the users whose turns have waited longer than `older_than_seconds`; returns how many."""
    return runtime().replier.requeue_stale_turns(older_than_seconds)


def ingest_buffered() -> int:
    """Stores every buffered turn and queues the replies; returns how many items it took off the buffer."""
    rt = runtime()
    if rt.intake_buffer is None:
        return 0
    return ingest(rt.intake_buffer, db.engine, rt.queue, timedelta(minutes=rt.settings.conversation_idle_minutes))


def send_reminders() -> dict[str, int]:
    """Sends every event reminder that is due; overlapping runs are safe (each reminder is claimed once).

    Returns:
        {"sent": n, "skipped": n, "failed": n} for this run.
    """
    rt = runtime()
    with db.session_scope() as session:
        return send_due_reminders(session, rt.settings, rt.dispatcher).as_dict()


BROADCAST_RUN_SECONDS = 5.0  # a run sends this long, then the worker takes users' replies again


def send_broadcast(broadcast_id: int) -> int:
    """Sends the broadcast for BROADCAST_RUN_SECONDS (one run per broadcast at a time), then queues the next
    run while recipients are left; returns how many it sent."""
    rt = runtime()
    lock = rt.queue.broadcast_run(broadcast_id, BROADCAST_RUN_SECONDS + 15)
    if lock is None:
        return 0  # another run has it and queues the next one
    try:
        sent = rt.broadcasts.run(broadcast_id, BROADCAST_RUN_SECONDS)
    finally:
        with suppress(LockError):  # it expired: the run took longer than its lock (another may have started)
            lock.release()
    with db.session_scope() as session:
        still = broadcast_id in active_broadcasts(session, utcnow())
    if still:
        rt.queue.enqueue_broadcast(broadcast_id)
    return sent
