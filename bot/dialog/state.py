"""The dialog state: what the bot is waiting for from this user (`awaiting`), on the conversation row.

One owner, one expiry. A reply's `awaiting` (a menu step, a confirmation, a clarifying question, a feedback
prompt) is stamped here and written with the reply, in the same transaction (`after_reply`), so it survives
restarts and every worker sees it. It is live for DIALOG_IDLE_MINUTES after it was set (`live`).

A step survives a question asked in the middle of it: when a reply that is not the journey's own (an FAQ or LLM
answer, a greeting, the fallback) leaves no step of its own, the step the user was in is kept as `resume`, and
the journeys answer it next ("2" still picks from the list shown before the question). A journey reply that
leaves no `awaiting` ends the dialog.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from models.base import utcnow

AWAITING = "awaiting"
RESUME = "resume"  # a journey step interrupted by a question, still answerable
SUBJECT = "event"  # {"id", "at"}: the event the conversation is about
# the journeys' steps: what a side question keeps resumable
STEP_KINDS = frozenset({"menu", "faq_topics", "events", "event", "seats", "confirm_register", "pick_event",
                        "tickets", "ticket", "confirm_cancel", "pick_facts"})


def stamped(awaiting: dict | None) -> dict | None:
    """The state a reply leaves, with the time it was set (the expiry counts from it)."""
    if not awaiting:
        return None
    return {**unstamped(awaiting), "at": utcnow().isoformat()}


def unstamped(awaiting: dict) -> dict:
    return {k: v for k, v in awaiting.items() if k != "at"}


def live(context: dict | None, idle_minutes: int, now: datetime | None = None, key: str = AWAITING) -> dict | None:
    """The state the conversation is in (or, with `key=RESUME`, the step a question interrupted), or None when
    there is none or it has expired."""
    awaiting = (context or {}).get(key)
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


def after_reply(context: dict | None, awaiting: dict | None, subject: int | None = None,
                side_answer: bool = False) -> dict:
    """The conversation's context once a reply leaving `awaiting` is stored (it replaces the previous state);
    `subject`, the event the reply is about, becomes the conversation's subject. A `side_answer` (not the
    journeys' own reply) that leaves no step keeps the step it interrupted resumable."""
    updated = {**(context or {}), AWAITING: awaiting}
    previous = (context or {}).get(AWAITING) or {}
    if side_answer and (awaiting is None or awaiting.get("kind") not in STEP_KINDS):
        kept = previous if previous.get("kind") in STEP_KINDS else (context or {}).get(RESUME)
        if kept:
            updated[RESUME] = kept
    else:
        updated.pop(RESUME, None)
    if subject is not None:
        updated[SUBJECT] = {"id": subject, "at": utcnow().isoformat()}
    return updated
