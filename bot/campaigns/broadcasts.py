"""Sending a confirmed broadcast: each recipient at most once, paced, resumable by any worker.

A run (`BroadcastRunner.run`, an RQ job or the embedded clock) sends for a few seconds and returns, so a long
broadcast never holds a worker away from users' replies; the clock queues the next run while recipients are
left. Per recipient, in one transaction: the recipient is claimed (`queued` → `claimed`, SKIP LOCKED on
PostgreSQL), how to reach them is decided (`bot.delivery.reach`: free-form in the window, the template outside
it, or skipped) and their message is stored `pending`. Then the send waits for its pacing slot and goes
through `Dispatcher.deliver`: claimed `pending` → `submitting` before the REST call, 429/5xx retried with
backoff, 21610 marks the user opted out, status callbacks move it on.

What keeps it to one message per recipient: the (broadcast, user) unique key, the claim, and the message's own
claim. A run killed between storing and sending leaves a `pending` message that a later run sends (no REST
call had begun); one killed during the REST call leaves it `submitting`, never resent — the message names
itself in its status callback URL, so if Twilio took it the callbacks still find it and the summary counts it.

WhatsApp's 63018 (the sender's rate limit) answered to a REST call pauses the broadcast for
BROADCAST_PAUSE_SECONDS; that recipient's message goes back to `pending` (Twilio created nothing) and is sent
on resuming. When no recipient is left to send, the broadcast is `finished`, and once its messages have
settled (or a minute later) its author gets the summary, once (a stored notification).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.campaigns.broadcast_rows import claim_next, retake_stale
from bot.campaigns.broadcast_summary import summary_notice
from bot.core.settings import Settings
from bot.delivery.audience import banned_ids
from bot.delivery.conversations import active_conversation
from bot.delivery.notify import send_notices
from bot.delivery.reach import SKIP, reach
from bot.delivery.sending import Dispatcher
from bot.i18n import catalog
from models import STATUS_RANK, Broadcast, BroadcastRecipient, Conversation, Event, Message, User
from models.base import utcnow

log = logging.getLogger(__name__)

RATE_LIMITED = 63018
STALE_SECONDS = 30  # a claim this old whose message is still `pending` lost its sender
SETTLE_SECONDS = 60  # the summary waits at most this long after the last send for delivery callbacks
Sessions = Callable[[], AbstractContextManager[Session]]


class BroadcastRunner:
    def __init__(self, settings: Settings, dispatcher: Dispatcher, pacer, sessions: Sessions,
                 threads: int = 1) -> None:
        self.settings, self.dispatcher, self.pacer, self.sessions = settings, dispatcher, pacer, sessions
        self.threads = max(1, threads)
        self.idle_gap = timedelta(minutes=settings.conversation_idle_minutes)

    def run(self, broadcast_id: int, budget_seconds: float) -> int:
        """Sends to the broadcast's recipients for about `budget_seconds`; returns how many sends it made.
        Finishes the broadcast when none is left (safe to run anywhere, any number of times at once)."""
        deadline = time.monotonic() + budget_seconds
        counts = [0] * self.threads
        workers = [threading.Thread(target=self._loop, args=(broadcast_id, deadline, counts, i),
                                    name=f"broadcast-{broadcast_id}-{i}", daemon=True)
                   for i in range(1, self.threads)]
        for worker in workers:
            worker.start()
        self._loop(broadcast_id, deadline, counts, 0)
        for worker in workers:
            worker.join()
        with self.sessions() as session:
            finish_if_done(session, broadcast_id)
        return sum(counts)

    def _loop(self, broadcast_id: int, deadline: float, counts: list[int], slot: int) -> None:
        with self.sessions() as session:
            while time.monotonic() < deadline:
                try:
                    sent = self.send_next(session, broadcast_id)
                except Exception:  # a bad row must not stop the broadcast; the next run retakes what is pending
                    session.rollback()
                    log.exception("broadcast send crashed broadcast_id=%s", broadcast_id)
                    return
                if sent is None:
                    return
                counts[slot] += sent

    def send_next(self, session: Session, broadcast_id: int) -> int | None:
        """Takes one recipient and sends to them: 1 when a message went to Twilio, 0 when the recipient was
        skipped, None when nothing is left to take now. Queued recipients first; then messages stored by a run
        that died before sending them (or handed back by a pause)."""
        now = utcnow()
        claimed = claim_next(session, broadcast_id, now)
        if claimed is not None:
            part = self._store(session, broadcast_id, claimed[0], claimed[1], now)
            session.commit()
            return 0 if part is None else self._send(session, broadcast_id, part)
        retaken = retake_stale(session, broadcast_id, now, now - timedelta(seconds=STALE_SECONDS))
        session.commit()
        if retaken is None:
            return None
        return self._send(session, broadcast_id, session.get(Message, retaken[1]))

    def _store(self, session: Session, broadcast_id: int, recipient_id: int, user_id: int,
               now: datetime) -> Message | None:
        """The recipient's message, stored `pending` (uncommitted); None when they are skipped now."""
        user = session.get(User, user_id)
        way = reach(user, now, {"en": self.settings.broadcast_template_sid_en,
                                "ar": self.settings.broadcast_template_sid_ar})
        reason = "banned" if banned_ids(session, [user_id], now) else way.reason
        if way.how == SKIP or reason:
            session.execute(update(BroadcastRecipient).where(BroadcastRecipient.id == recipient_id)
                            .values(status="skipped", reason=reason))
            return None
        broadcast = session.get(Broadcast, broadcast_id)
        send = {"track": True}
        if way.content_sid:
            send.update(content_sid=way.content_sid,
                        content_variables=json.dumps({"1": " ".join(broadcast.body.split())}, ensure_ascii=False))
        conversation_id = active_conversation(session.connection(), user_id, now, self.idle_gap)
        part = Message(conversation_id=conversation_id, user_id=user_id, direction="outbound", role="assistant",
                       body=message_text(session, broadcast, way.language), status="pending", status_rank=0,
                       part_index=0, part_count=1, route="broadcast", route_key=str(broadcast_id),
                       language=way.language, meta={"broadcast_id": broadcast_id, "send": send},
                       created_at=now, updated_at=now)
        session.add(part)
        session.flush()
        session.execute(update(BroadcastRecipient).where(BroadcastRecipient.id == recipient_id)
                        .values(message_id=part.id, how=way.how))
        session.execute(update(Conversation).where(Conversation.id == conversation_id)
                        .values(message_count=Conversation.message_count + 1, last_message_at=now))
        return part

    def _send(self, session: Session, broadcast_id: int, part: Message) -> int:
        phone = session.scalar(select(User.phone).where(User.id == part.user_id))
        self.pacer.wait()
        if self.dispatcher.deliver(session, part, phone):
            return 1
        code = session.scalar(select(Message.error_code).where(Message.id == part.id))
        if code == RATE_LIMITED:
            self._pause(session, broadcast_id, part.id)
        return 1

    def _pause(self, session: Session, broadcast_id: int, message_id: int) -> None:
        """WhatsApp's sender limit: the message goes back to `pending` (Twilio created none) and the broadcast
        rests for BROADCAST_PAUSE_SECONDS."""
        until = utcnow() + timedelta(seconds=self.settings.broadcast_pause_seconds)
        session.execute(update(Message).where(Message.id == message_id, Message.error_code == RATE_LIMITED)
                        .values(status="pending", status_rank=STATUS_RANK["pending"], error_code=None,
                                error_message=None))
        # handed back: the first run after the pause sends it (`retake_stale`)
        session.execute(update(BroadcastRecipient).where(BroadcastRecipient.message_id == message_id)
                        .values(claimed_at=utcnow() - timedelta(days=1)))
        session.execute(update(Broadcast).where(Broadcast.id == broadcast_id).values(paused_until=until))
        session.commit()
        log.warning("broadcast paused broadcast_id=%s until=%s: WhatsApp rate limit (63018)", broadcast_id,
                    until.isoformat())


def message_text(session: Session, broadcast: Broadcast, language: str) -> str:
    """What a recipient reads, framed in their language: the event's name, then the organizer's text."""
    event = session.get(Event, broadcast.event_id) if broadcast.event_id else None
    if event is None:
        return catalog.say("broadcast_message_all", language, text=broadcast.body)
    return catalog.say("broadcast_message", language, title=event.title(language), text=broadcast.body)


def finish_if_done(session: Session, broadcast_id: int) -> bool:
    """Marks a sending broadcast `finished` when no recipient is queued and no stored message waits to be sent;
    True for the call that did."""
    waiting = session.scalar(
        select(BroadcastRecipient.id).outerjoin(Message, Message.id == BroadcastRecipient.message_id)
        .where(BroadcastRecipient.broadcast_id == broadcast_id,
               (BroadcastRecipient.status == "queued")
               | ((BroadcastRecipient.status == "claimed") & (Message.status == "pending")))
        .limit(1))
    if waiting is not None:
        return False
    done = session.execute(update(Broadcast).where(Broadcast.id == broadcast_id, Broadcast.status == "sending")
                           .values(status="finished", finished_at=utcnow())).rowcount == 1
    session.commit()
    if done:
        log.info("broadcast finished broadcast_id=%s", broadcast_id)
    return done


def active_broadcasts(session: Session, now: datetime) -> list[int]:
    """Broadcasts with recipients to send now (sending, not paused)."""
    return list(session.scalars(select(Broadcast.id).where(
        Broadcast.status == "sending", (Broadcast.paused_until.is_(None)) | (Broadcast.paused_until <= now))
        .order_by(Broadcast.id)))


def send_due_summaries(session: Session, dispatcher: Dispatcher, settings: Settings) -> int:
    """Tells the authors of finished broadcasts what came of them, once their messages have settled (none
    still on its way to WhatsApp) or SETTLE_SECONDS after the last send; returns how many it told."""
    told = 0
    now = utcnow()
    for broadcast in session.scalars(select(Broadcast).where(Broadcast.status == "finished")):
        if not _settled(session, broadcast, now):
            continue
        if session.execute(update(Broadcast).where(Broadcast.id == broadcast.id, Broadcast.status == "finished")
                           .values(status="summarized")).rowcount != 1:
            continue
        session.commit()
        notice = summary_notice(session, broadcast)
        if notice is not None:
            send_notices(session, dispatcher, timedelta(minutes=settings.conversation_idle_minutes), (notice,))
        told += 1
    return told


def _settled(session: Session, broadcast: Broadcast, now: datetime) -> bool:
    if broadcast.finished_at is None or now - broadcast.finished_at > timedelta(seconds=SETTLE_SECONDS):
        return True
    on_the_way = session.scalar(
        select(Message.id).join(BroadcastRecipient, BroadcastRecipient.message_id == Message.id)
        .where(BroadcastRecipient.broadcast_id == broadcast.id,
               Message.status_rank < STATUS_RANK["sent"]).limit(1))
    return on_the_way is None
