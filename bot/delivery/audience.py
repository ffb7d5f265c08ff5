"""Who a broadcast reaches, how each recipient is reached, and what came of it.

The audience of an event's broadcast is its registrants (a `registered` ticket, not cancelled); of `all` (admins
only), everyone holding such a ticket for any event. Each is reached the way `bot.delivery.reach` decides for
every message the bot starts: free-form inside the 24-hour window, the broadcast template outside it, or not at
all (opted out, no template, or banned). The plan the organizer confirms and the summary they get are counted
here, from the recipients' rows and their messages' delivery status.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.delivery.reach import FREE, SKIP, TEMPLATE, reach
from models import BroadcastRecipient, Message, Registration, User, UserBan

BANNED = "banned"
SENT_STATUSES = ("accepted", "scheduled", "queued", "sending", "sent")
FAILED_STATUSES = ("failed", "undelivered", "canceled")


def audience(session: Session, event_id: int | None) -> list[User]:
    """The users holding a `registered` ticket for the event (any event when `event_id` is None), by id."""
    query = (select(User).join(Registration, Registration.user_id == User.id)
             .where(Registration.status == "registered", User.status == "active").distinct().order_by(User.id))
    if event_id is not None:
        query = query.where(Registration.event_id == event_id)
    return list(session.scalars(query))


def banned_ids(session: Session, user_ids: list[int], now: datetime) -> set[int]:
    """Those of `user_ids` under a ban now (not lifted, not expired)."""
    if not user_ids:
        return set()
    return set(session.scalars(select(UserBan.user_id).where(
        UserBan.user_id.in_(user_ids), UserBan.lifted_at.is_(None),
        or_(UserBan.expires_at.is_(None), UserBan.expires_at > now))))


@dataclass(frozen=True)
class Planned:
    """One recipient as the plan sees them: reached free-form, by template, or skipped (with the reason)."""

    user_id: int
    how: str
    reason: str | None


def plan(session: Session, users: list[User], now: datetime, templates: dict[str, str | None]) -> list[Planned]:
    banned = banned_ids(session, [u.id for u in users], now)
    planned = []
    for user in users:
        if user.id in banned:
            planned.append(Planned(user.id, SKIP, BANNED))
            continue
        way = reach(user, now, templates)
        planned.append(Planned(user.id, way.how, way.reason))
    return planned


def plan_counts(planned: list[Planned]) -> dict[str, int]:
    """{"recipients", "inside", "template", "no_template", "opted_out", "banned"}: what the organizer confirms."""
    hows = Counter(p.how for p in planned)
    reasons = Counter(p.reason for p in planned if p.how == SKIP)
    return {"recipients": len(planned), "inside": hows[FREE], "template": hows[TEMPLATE],
            "no_template": reasons["no_template"], "opted_out": reasons["opted_out"], "banned": reasons[BANNED]}


@dataclass
class Outcome:
    """Where a broadcast's recipients stand: skipped (by reason), waiting, sent (accepted by WhatsApp, not yet
    delivered), delivered (read included), read, and failed by Twilio error code."""

    recipients: int = 0
    skipped: Counter = field(default_factory=Counter)
    waiting: int = 0
    sent: int = 0
    delivered: int = 0
    read: int = 0
    failed: Counter = field(default_factory=Counter)

    @property
    def accepted(self) -> int:
        """Messages WhatsApp took: sent, delivered or read."""
        return self.sent + self.delivered

    def add(self, recipient_status: str, reason: str | None, status: str | None, code: int | None,
            count: int = 1) -> None:
        self.recipients += count
        if recipient_status in ("skipped", "cancelled"):
            self.skipped[reason or recipient_status] += count
        elif status in FAILED_STATUSES:
            self.failed[code] += count
        elif status in ("delivered", "read"):
            self.delivered += count
            self.read += count if status == "read" else 0
        elif status in SENT_STATUSES:
            self.sent += count
        else:  # queued, or claimed and not sent yet
            self.waiting += count


def outcome(session: Session, broadcast_id: int) -> Outcome:
    rows = session.execute(
        select(BroadcastRecipient.status, BroadcastRecipient.reason, Message.status, Message.error_code,
               func.count())
        .outerjoin(Message, Message.id == BroadcastRecipient.message_id)
        .where(BroadcastRecipient.broadcast_id == broadcast_id)
        .group_by(BroadcastRecipient.status, BroadcastRecipient.reason, Message.status, Message.error_code))
    result = Outcome()
    for recipient_status, reason, status, code, count in rows:
        result.add(recipient_status, reason, status, code, count)
    return result
