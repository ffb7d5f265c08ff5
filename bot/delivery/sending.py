"""Sending stored outbound parts: each claimed once, sent with bounded retries, its outcome recorded.

A part is `submitting` in a committed row before its REST call, and a part found `submitting` on a re-run is
marked failed rather than risk a duplicate. Transient errors (429, 5xx, network) are retried here, inside the
job, so a user's later reply cannot overtake; permanent ones are recorded with Twilio's code and never retried,
and the parts after a part that failed for good are not sent (they would arrive out of context).

A fresh answer's parts (`send_answer(..., fresh=True)`) arrive with the first one already claimed: each SID is
stored in the commit that claims the next part, and the last one's together with the answered turn's outcome
(see `bot.delivery.status.store_sid`). Parts stored by an earlier run, and messages the bot starts itself
(reminders, `deliver`), take the step-by-step path: claim, send, store, each committed.
"""
from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from bot.channels import Sender
from bot.channels.messages import OutboundMessage, SendResult
from bot.core.errors import SendError
from bot.core.locks import UserLock
from bot.delivery import consent, status
from models import STATUS_RANK, Message
from models.base import utcnow

log = logging.getLogger(__name__)

_MESSAGES = Message.__table__
CLAIMED = (update(_MESSAGES).where(_MESSAGES.c.id == bindparam("p_id"), _MESSAGES.c.status == "pending")
           .values(status="submitting", status_rank=STATUS_RANK["submitting"], updated_at=bindparam("p_now")))
FINISHED = (update(_MESSAGES).where(_MESSAGES.c.id == bindparam("p_id"))
            .values(status=bindparam("p_status"), updated_at=bindparam("p_now")))
FINISHED_WITH_ERROR = FINISHED.values(error_message=bindparam("p_error"))
MAX_BACKOFF_SECONDS = 8.0
OPTED_OUT = 21610  # Twilio: the recipient opted out


@dataclass(frozen=True)
class StoredPart:
    """A part just inserted by the conversation stage: what sending it needs (`outbound_for` reads `body` and
    `meta`)."""

    id: int
    body: str
    meta: dict | None
    part_index: int
    part_count: int


def outbound_for(part: Message | StoredPart, phone: str) -> OutboundMessage:
    """The REST call for a stored part: its text, and the first part's pin or template if it has one; a part
    whose `send` says `track` (a broadcast's) names itself in its status callback URL (`callback_url`)."""
    send = (part.meta or {}).get("send") or {}
    return OutboundMessage(to_phone=phone, body=part.body, content_sid=send.get("content_sid"),
                           content_variables=send.get("content_variables"),
                           persistent_action=tuple(send.get("persistent_action") or ()),
                           media_urls=tuple(send.get("media_urls") or ()),
                           ref=part.id if send.get("track") else None)


def parts_of(session: Session, inbound_id: int) -> list[Message]:
    """The stored parts of the answer to a turn, in order."""
    return list(session.scalars(select(Message).where(Message.reply_to_id == inbound_id)
                                .order_by(Message.part_index)))


def finish_turn(session: Session, inbound_id: int, outcome: dict) -> None:
    """Marks the answered turn with `outcome` ({"p_status": ..., optionally "p_error": ...}); uncommitted."""
    session.execute(FINISHED_WITH_ERROR if "p_error" in outcome else FINISHED,
                    {"p_id": inbound_id, "p_now": utcnow(), **outcome})


class Dispatcher:
    """Sends stored parts through the channel's `Sender` with the retry policy of the settings
    (SEND_MAX_ATTEMPTS, SEND_RETRY_SECONDS, and the backoff's first delay)."""

    def __init__(self, sender: Sender, settings) -> None:
        self.sender = sender
        self.settings = settings

    def send_answer(self, session: Session, parts: list[Message] | list[StoredPart], phone: str, lock: UserLock,
                    inbound_id: int, fresh: bool, outcome: dict) -> None:
        """Sends an answer's parts in order; the turn gets `outcome` with the last write, left uncommitted for
        the caller's next read. `fresh`: the parts were stored just now, the first one claimed."""
        if fresh:
            self._send_fresh(session, parts, phone, lock, inbound_id, outcome)
            return
        self._send_stored(session, parts, phone, lock)
        finish_turn(session, inbound_id, outcome)

    def deliver(self, session: Session, part: Message, phone: str) -> bool:
        """Sends one stored outbound part: claim (committed), REST call with retries, outcome (committed).

        Bot-initiated messages (reminders) and parts stored by an earlier run use it, so they get the same
        claim, retries, permanent-error handling and status callbacks as a fresh answer's parts.

        Returns:
            False when it failed for good (the row holds the error code), else True (also when the part was
            not `pending`: someone else has it).
        """
        if not _claim(session, part):
            return True
        result = self._submit(part, outbound_for(part, phone))
        if isinstance(result, SendError):
            _note_opt_out(session, result, phone)
            _mark_failed(session, part, result.code, str(result))
            return False
        _mark_submitted(session, part, result.provider_id, result.status)
        return True

    def _send_stored(self, session: Session, parts: list[Message], phone: str, lock: UserLock) -> None:
        """Parts an earlier run stored: one found `submitting` may have been sent, so it is marked failed."""
        for part in parts:
            lock.renew()
            if part.status == "submitting":
                _mark_failed(session, part, None, "interrupted while submitting; not resent to avoid a duplicate")
            elif part.status == "pending" and not self.deliver(session, part, phone):
                _fail_rest(session, parts, part)
                break

    def _send_fresh(self, session: Session, parts: list[StoredPart], phone: str, lock: UserLock,
                    inbound_id: int, outcome: dict) -> None:
        for i, part in enumerate(parts):
            lock.renew()
            result = self._submit(part, outbound_for(part, phone))
            now = utcnow()
            if isinstance(result, SendError):  # failed for good: later parts would arrive out of context
                _note_opt_out(session, result, phone)
                _fail_fresh(session, parts[i:], result, now)
                finish_turn(session, inbound_id, outcome)
                return
            following = parts[i + 1] if i + 1 < len(parts) else None
            if following is None:
                _store_last_sid(session, part, result, now, inbound_id, outcome)
                return
            status.store_sid(session, part.id, result.provider_id, result.status, now)
            _log_sent(part, result.provider_id)
            claimed = session.execute(CLAIMED, {"p_id": following.id, "p_now": now}).rowcount == 1
            session.commit()
            if not claimed:  # not ours any more (only if the user's lock was lost): the careful path decides
                self._send_stored(session, parts_of(session, inbound_id)[i + 1:], phone, lock)
                finish_turn(session, inbound_id, outcome)
                return

    def _submit(self, part: Message | StoredPart, outbound: OutboundMessage) -> SendResult | SendError:
        """The REST call, retried with backoff on transient errors; the error that ended it, if it failed."""
        started, attempt = time.monotonic(), 0
        while True:
            attempt += 1
            try:
                return self.sender.send(outbound)
            except SendError as exc:
                delay = self._retry_delay(exc, attempt, time.monotonic() - started)
                if delay is None:
                    return exc
                log.warning("send retry message_id=%s attempt=%d code=%s delay=%.2fs", part.id, attempt,
                            exc.code, delay)
                time.sleep(delay)

    def _retry_delay(self, error: SendError, attempt: int, elapsed: float) -> float | None:
        """How long to wait before the next attempt, or None to give up: a transient error is retried for
        SEND_MAX_ATTEMPTS attempts, and beyond them while SEND_RETRY_SECONDS have not passed since the first
        (a Twilio outage of a minute is waited out; the user's later turns queue behind, in order)."""
        if not error.transient:
            return None
        delay = min(self.settings.send_backoff_seconds * 2 ** min(attempt - 1, 16) * random.uniform(0.8, 1.2),
                    MAX_BACKOFF_SECONDS)
        if attempt < self.settings.send_max_attempts or elapsed + delay <= self.settings.send_retry_seconds:
            return delay
        return None


def _store_last_sid(session: Session, part: StoredPart, result: SendResult, now, inbound_id: int,
                    outcome: dict) -> None:
    """The last part's SID and the turn's outcome in one round trip (an error message needs its own UPDATE)."""
    in_one = "p_error" not in outcome
    status.store_sid(session, part.id, result.provider_id, result.status, now,
                     finish_turn=(inbound_id, outcome["p_status"]) if in_one else None)
    _log_sent(part, result.provider_id)
    if not in_one:
        finish_turn(session, inbound_id, outcome)


def _note_opt_out(session: Session, error: SendError, phone: str) -> None:
    """21610: the recipient has opted out at Twilio (or blocked the sender): remember it, so nothing the bot
    starts is sent to them again."""
    if error.code == OPTED_OUT:
        consent.opted_out_by_twilio(session, phone)


def _log_sent(part: Message | StoredPart, sid: str) -> None:
    log.info("sent message_id=%s message_sid=%s part=%d/%d", part.id, sid, part.part_index + 1, part.part_count)


def _fail_fresh(session: Session, parts: list[StoredPart], error: SendError, now) -> None:
    """The first of `parts` failed for good; the rest are not sent."""
    failed, *later = parts
    _failed_row(session, failed.id, error.code, str(error), now)
    for part in later:
        _failed_row(session, part.id, error.code, f"not sent: part {failed.part_index + 1} failed", now)


def _failed_row(session: Session, part_id: int, code: int | None, error: str, now) -> None:
    session.execute(update(_MESSAGES).where(_MESSAGES.c.id == part_id)
                    .values(status="failed", status_rank=STATUS_RANK["failed"], error_code=code,
                            error_message=error[:1000], updated_at=now))
    log.error("send failed message_id=%s code=%s error=%s", part_id, code, error)


def _claim(session: Session, part: Message) -> bool:
    claimed = session.execute(update(Message).where(Message.id == part.id, Message.status == "pending")
                              .values(status="submitting", status_rank=STATUS_RANK["submitting"],
                                      updated_at=utcnow())).rowcount
    session.commit()
    return claimed == 1


def _mark_submitted(session: Session, part: Message, sid: str, provider_status: str) -> None:
    """Stores the SID with the callbacks that beat it, and commits."""
    status.store_sid(session, part.id, sid, provider_status, utcnow())
    session.commit()
    _log_sent(part, sid)  # before expiring: reading the attributes of an expired part would cost a SELECT
    session.expire(part)  # the row, not this object, says where the part stands now


def _mark_failed(session: Session, part: Message, code: int | None, error: str) -> None:
    session.execute(update(Message).where(Message.id == part.id)
                    .values(status="failed", status_rank=STATUS_RANK["failed"], error_code=code,
                            error_message=error[:1000], updated_at=utcnow()))
    session.commit()
    log.error("send failed message_id=%s code=%s error=%s", part.id, code, error)
    session.expire(part)


def _fail_rest(session: Session, parts: list[Message], failed: Message) -> None:
    """Later parts of an answer whose part failed for good are not sent: they would arrive out of context."""
    code = session.execute(select(Message.error_code).where(Message.id == failed.id)).scalar()
    for part in parts:
        if part.part_index > failed.part_index and part.status == "pending":
            _mark_failed(session, part, code, f"not sent: part {failed.part_index + 1} failed")
