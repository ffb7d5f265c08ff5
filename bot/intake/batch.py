"""Storing many turns at once (the buffered intake's `intake` job): the same rows as `store_inbound` for each
turn, in about six statements for the whole batch instead of four to six per turn (docs/benchmarks.md).

Each user's turns keep their order. A user whose turns a conversation's idle gap splits (turns buffered for
long while PostgreSQL was down), whose active conversation has gone idle, or whose new conversation a
concurrent delivery opened first, is stored turn by turn with `store_inbound`, after the rest.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from bot.channels.messages import InboundTurn
from bot.core.sql import as_utc
from bot.delivery.conversations import add_participants
from bot.intake.rows import TurnRows, rows_for
from bot.intake.store import attachment_rows, message_row, store_inbound, user_row

log = logging.getLogger(__name__)
Received = tuple[InboundTurn, datetime]


@dataclass
class _Plan:
    """Where each user's turns go: a known conversation, or the turn-by-turn path."""

    user_of: dict[str, int]
    conversation_of: dict[int, int] = field(default_factory=dict)
    one_by_one: set[str] = field(default_factory=set)


def store_inbound_batch(connection: Connection, turns: list[Received], idle_gap: timedelta) -> None:
    """Stores the turns, each with the time it was received, in the caller's transaction."""
    if not turns:
        return
    rows = rows_for(connection)
    by_phone = _by_phone(turns)
    user_of = rows.upsert_users(connection, [user_row(phone, mine)  # one lock order for every batch
                                             for phone, mine in sorted(by_phone.items())])
    plan = _plan(connection, rows, by_phone, user_of, idle_gap)
    _store_planned(connection, rows, [(t, at) for t, at in turns if t.phone not in plan.one_by_one], plan)
    for turn, at in turns:
        if turn.phone in plan.one_by_one:
            store_inbound(connection, turn, idle_gap, now=at)


def _by_phone(turns: list[Received]) -> dict[str, list[Received]]:
    by_phone: dict[str, list[Received]] = {}
    for turn, at in turns:
        by_phone.setdefault(turn.phone, []).append((turn, at))
    return by_phone


def _plan(connection: Connection, rows: TurnRows, by_phone: dict[str, list[Received]], user_of: dict[str, int],
          idle_gap: timedelta) -> _Plan:
    """Each user's conversation: the active one, a new one (opened here for all such users at once), or the
    turn-by-turn path."""
    plan = _Plan(user_of)
    active = rows.active_conversations(connection, list(user_of.values()))
    to_open: list[str] = []
    for phone, mine in by_phone.items():
        user_id, times = user_of[phone], [at for _, at in mine]
        if any(later - earlier > idle_gap for earlier, later in zip(times, times[1:], strict=False)):
            plan.one_by_one.add(phone)
        elif user_id not in active:
            to_open.append(phone)
        elif as_utc(active[user_id][1]) >= times[0] - idle_gap:
            plan.conversation_of[user_id] = active[user_id][0]
        else:
            plan.one_by_one.add(phone)  # closes the idle conversation and opens the next: the single-turn path
    if to_open:
        _open(connection, rows, plan, {phone: by_phone[phone][0][1] for phone in to_open})
    return plan


def _open(connection: Connection, rows: TurnRows, plan: _Plan, first_at: dict[str, datetime]) -> None:
    """Opens a conversation for each of these users; one a concurrent delivery opened first is left to the
    turn-by-turn path."""
    user_first = {plan.user_of[phone]: at for phone, at in first_at.items()}
    created = rows.open_conversations(connection, list(user_first.items()))
    if created:
        add_participants(connection, [(conversation_id, user_id, user_first[user_id])
                                      for user_id, conversation_id in created.items()])
    plan.conversation_of.update(created)
    plan.one_by_one.update(phone for phone in first_at if plan.user_of[phone] not in created)


def _store_planned(connection: Connection, rows: TurnRows, batch: list[Received], plan: _Plan) -> None:
    """The messages of the users whose conversation is known, their attachments and the counters."""
    if not batch:
        return
    conversation = {phone: plan.conversation_of[user_id] for phone, user_id in plan.user_of.items()
                    if user_id in plan.conversation_of}
    stored = rows.insert_messages(connection, [
        message_row(conversation[turn.phone], plan.user_of[turn.phone], turn, at) for turn, at in batch])
    kept = [(turn, at) for turn, at in batch if turn.channel_message_id in stored]
    rows.insert_attachments(connection, [row for turn, at in kept
                                         for row in attachment_rows(stored[turn.channel_message_id], turn, at)])
    counted: dict[int, tuple[int, datetime]] = {}
    for turn, at in kept:
        n, last = counted.get(conversation[turn.phone], (0, at))
        counted[conversation[turn.phone]] = (n + 1, max(last, at))
    if counted:
        rows.count_messages(connection, [(cid, n, last) for cid, (n, last) in counted.items()])
    if len(batch) > len(kept):
        log.info("duplicate deliveries ignored: %d", len(batch) - len(kept))
