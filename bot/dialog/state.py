"""The dialog state: what the bot is waiting for from this user (`awaiting`), on the conversation row.

One owner, one expiry. A reply's `awaiting` (a menu step, a confirmation, a clarifying question, a feedback
prompt) is stamped here and written with the reply, in the same transaction (`after_reply`), so it survives
restarts and every worker sees it. It is live for DIALOG_IDLE_MINUTES after it was set (`live`); a reply that
leaves no `awaiting` ends the dialog, so a user who asks something else simply gets an answer to that.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from models.base import utcnow

AWAITING = "awaiting"
SUBJECT = "event"  # {"id", "at"}: the event the conversation is about


def stamped(awaiting: dict | None) -> dict | None:
    """The state a reply leaves, with the time it was set (the expiry counts from it)."""
    if not awaiting:
        return None
    return {**unstamped(awaiting), "at": utcnow().isoformat()}


def unstamped(awaiting: dict) -> dict:
    return {k: v for k, v in awaiting.items() if k != "at"}


def live(context: dict | None, idle_minutes: int, now: datetime | None = None) -> dict | None:
    """The state the conversation is in, or None when there is none or it has expired."""
    awaiting = (context or {}).get(AWAITING)
    if not awaiting or "at" not in awaiting:
        return None
    set_at = datetime.fromisoformat(awaiting["at"])
    if (now or utcnow()) - set_at > timedelta(minutes=idle_minutes):
        return None
    return awaiting


def live_subject(context: dict | None, idle_minutes: int, now: datetime | None = None) -> int | None:
    """The event the conversation is about (the last one shown, booked or asked about), or None when there is
    none or it was set longer than `idle_minutes` ago."""
    subject = (context or {}).get(SUBJECT)
    if not subject:
        return None
    if (now or utcnow()) - datetime.fromisoformat(subject["at"]) > timedelta(minutes=idle_minutes):
        return None
    return subject["id"]


def after_reply(context: dict | None, awaiting: dict | None, subject: int | None = None) -> dict:
    """The conversation's context once a reply leaving `awaiting` is stored (it replaces the previous state);
    `subject`, the event the reply is about, becomes the conversation's subject."""
    updated = {**(context or {}), AWAITING: awaiting}
    if subject is not None:
        updated[SUBJECT] = {"id": subject, "at": utcnow().isoformat()}
    return updated
