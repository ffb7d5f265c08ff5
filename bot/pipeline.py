"""The reply pipeline for one inbound turn: route it, store the answer's parts, send them in order.

Each step is recorded before the next starts, so a job run again after a crash resumes without asking the
LLM twice and without sending a part twice: a part is claimed (`pending` → `submitting`) in its own commit
before the REST call, and a part found `submitting` on a re-run is marked failed rather than risk a duplicate.
"""
from __future__ import annotations

import logging
import random
import time
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot import catalog, router, status
from bot.errors import SendError
from bot.locks import UserLock
from bot.runtime import Runtime
from bot.splitting import split_message
from bot.turns import OutboundMessage
from models import STATUS_RANK, Conversation, Message, MessageAttachment, User
from models.base import utcnow

log = logging.getLogger(__name__)


def answer_turn(session: Session, rt: Runtime, inbound: Message, lock: UserLock) -> None:
    """Answers one stored inbound turn, exactly once, and marks it processed."""
    parts = _parts_of(session, inbound.id)
    if not parts:
        ctx = _context(session, rt, inbound)
        # _context may update the user's language; commit it now so no row lock is held across the LLM call
        # (the webhook's user upsert would wait on it).
        session.commit()
        parts = _store_reply(session, inbound, ctx.conversation, ctx.language, router.route(ctx))
    _send_parts(session, rt, parts, session.get(User, inbound.user_id).phone, lock)
    session.execute(update(Message).where(Message.id == inbound.id)
                    .values(status="processed", updated_at=utcnow()))
    session.commit()


def answer_after_failure(session: Session, rt: Runtime, inbound_id: int, lock: UserLock, error: str) -> None:
    """A turn that failed while being answered still gets an answer — the bilingual fallback, unless its
    answer was already stored — and is marked failed with the error (the logs hold the traceback)."""
    inbound = session.get(Message, inbound_id)
    parts = _parts_of(session, inbound_id)
    user = session.get(User, inbound.user_id)
    if not parts:
        language = user.preferred_language or "en"
        reply = router.Reply(catalog.say_both("fallback", language), "fallback", language,
                             meta={"after_error": True})
        parts = _store_reply(session, inbound, session.get(Conversation, inbound.conversation_id), language, reply)
    _send_parts(session, rt, parts, user.phone, lock)
    session.execute(update(Message).where(Message.id == inbound_id)
                    .values(status="failed", error_message=error[:1000], updated_at=utcnow()))
    session.commit()


def _send_parts(session: Session, rt: Runtime, parts: list[Message], phone: str, lock: UserLock) -> None:
    for part in parts:
        lock.renew()
        if part.status == "submitting":
            _mark_failed(session, part, None, "interrupted while submitting; not resent to avoid a duplicate")
        elif part.status == "pending" and not deliver(session, rt, part, phone):
            _fail_rest(session, parts, part)
            break


def _context(session: Session, rt: Runtime, inbound: Message) -> router.TurnContext:
    attachments = [] if inbound.message_type == "text" else list(  # intake stores none for a plain text
        session.scalars(select(MessageAttachment).where(MessageAttachment.message_id == inbound.id)))
    user = session.get(User, inbound.user_id)
    return router.TurnContext(session=session, message=inbound, attachments=attachments, user=user,
                              conversation=session.get(Conversation, inbound.conversation_id),
                              language=_language_of(inbound, user), knowledge=rt.knowledge.get(session),
                              assistant=rt.assistant, settings=rt.settings)


def _language_of(inbound: Message, user: User) -> str:
    """The language to answer in: the user's explicit choice, else the language of this text (remembered
    for messages the bot starts), else of their last written message — which is the remembered one — for
    a turn without letters (a menu number, a photo, "👍")."""
    if user.language_explicit and user.preferred_language:
        return user.preferred_language
    if any(ch.isalpha() for ch in inbound.body):
        language = catalog.detect_language(inbound.body)
        user.preferred_language = language
        return language
    return user.preferred_language or "en"


def _parts_of(session: Session, inbound_id: int) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.reply_to_id == inbound_id)
                                .order_by(Message.part_index)))


def _store_reply(session: Session, inbound: Message, conversation: Conversation, language: str,
                 reply: router.Reply) -> list[Message]:
    texts = split_message(reply.text)
    now = utcnow()
    parts = [Message(conversation_id=inbound.conversation_id, user_id=inbound.user_id, direction="outbound",
                     role="assistant", body=text, status="pending", status_rank=0, reply_to_id=inbound.id,
                     part_index=i, part_count=len(texts), route=reply.route, route_key=reply.route_key,
                     confidence=reply.confidence, language=reply.language, created_at=now, updated_at=now,
                     tool_used=reply.tool_used, action_taken=reply.action_taken,
                     # a location pin or template goes with the first part only
                     meta=({**reply.meta, "send": reply.send} if reply.send and i == 0 else reply.meta) or None,
                     # usage belongs to the answer as a whole: recorded once, on its first part
                     model=reply.model, prompt_tokens=reply.prompt_tokens if i == 0 else None,
                     completion_tokens=reply.completion_tokens if i == 0 else None,
                     latency_ms=reply.latency_ms if i == 0 else None)
             for i, text in enumerate(texts)]
    session.add_all(parts)
    conversation.context = {**(conversation.context or {}), "awaiting": reply.awaiting}
    session.execute(update(Message).where(Message.id == inbound.id)
                    .values(language=language, route=reply.route, route_key=reply.route_key,
                            confidence=reply.confidence, tool_used=reply.tool_used,
                            action_taken=reply.action_taken))
    session.execute(update(Conversation).where(Conversation.id == inbound.conversation_id)
                    .values(message_count=Conversation.message_count + len(parts), last_message_at=now))
    session.commit()
    log.info("reply stored message_id=%s route=%s key=%s confidence=%s parts=%d", inbound.id, reply.route,
             reply.route_key, reply.confidence, len(parts))
    return parts


def _claim(session: Session, part: Message) -> bool:
    claimed = session.execute(update(Message).where(Message.id == part.id, Message.status == "pending")
                              .values(status="submitting", status_rank=STATUS_RANK["submitting"],
                                      updated_at=utcnow())).rowcount
    session.commit()
    return claimed == 1


def deliver(session: Session, rt: Runtime, part: Message, phone: str) -> bool:
    """Sends one stored outbound part with bounded backoff on transient errors.

    Replies and bot-initiated messages (reminders) share it, so both get the same claim, retries,
    permanent-error handling and status callbacks.

    Args:
        session: the caller's session; each step commits.
        rt: the runtime (sender and retry settings).
        part: a stored outbound message; only a `pending` one is sent.
        phone: the recipient in E.164.
    Returns:
        False when it failed for good (the row holds the error code), else True.
    """
    if not _claim(session, part):
        return True
    outbound = outbound_for(part, phone)
    attempts = rt.settings.send_max_attempts
    for attempt in range(1, attempts + 1):
        try:
            result = rt.sender.send(outbound)
        except SendError as exc:
            if exc.transient and attempt < attempts:
                delay = rt.settings.send_backoff_seconds * 2 ** (attempt - 1) * random.uniform(0.8, 1.2)
                log.warning("send retry message_id=%s attempt=%d code=%s delay=%.2fs", part.id, attempt,
                            exc.code, delay)
                time.sleep(min(delay, 8.0))
                continue
            _mark_failed(session, part, exc.code, str(exc))
            return False
        _mark_submitted(session, part, result.provider_id, result.status)
        return True
    return False


def outbound_for(part: Message, phone: str) -> OutboundMessage:
    """The REST call for a stored part: its text, and the first part's pin or template if it has one."""
    send = (part.meta or {}).get("send") or {}
    return OutboundMessage(to_phone=phone, body=part.body, content_sid=send.get("content_sid"),
                           content_variables=send.get("content_variables"),
                           persistent_action=tuple(send.get("persistent_action") or ()),
                           media_urls=tuple(send.get("media_urls") or ()))


def _mark_submitted(session: Session, part: Message, sid: str, provider_status: str) -> None:
    """Stores the SID with the callbacks that beat it (one UPDATE under the SID's lock), and commits."""
    status.store_sid(session, part.id, sid, provider_status, utcnow())
    session.commit()
    # logged before expiring: reading the attributes of an expired part would cost a SELECT
    log.info("sent message_id=%s message_sid=%s part=%d/%d", part.id, sid, part.part_index + 1, part.part_count)
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
    for part in parts[failed.part_index + 1:]:
        if part.status == "pending":
            _mark_failed(session, part, code, f"not sent: part {failed.part_index + 1} failed")


def pending_turns(session: Session, user_id: int) -> int:
    return session.execute(select(func.count()).where(Message.user_id == user_id,
                                                      Message.direction == "inbound",
                                                      Message.status == "received")).scalar_one()


def stale_turns(session: Session, waited: timedelta) -> list[tuple[int, int]]:
    """(user id, oldest waiting turn id) for each user with a turn unanswered for longer than `waited`."""
    rows = session.execute(select(Message.user_id, func.min(Message.id))
                           .where(Message.direction == "inbound", Message.status == "received",
                                  Message.created_at < utcnow() - waited)
                           .group_by(Message.user_id)).all()
    return [(user_id, message_id) for user_id, message_id in rows]
