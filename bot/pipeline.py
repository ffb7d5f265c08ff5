"""The reply pipeline for one inbound turn: route it, store the answer's parts, send them in order.

Each step is recorded before the next starts, so a job run again after a crash resumes without asking the
LLM twice and without sending a part twice: a part is `submitting` in a committed row before its REST call,
and a part found `submitting` on a re-run is marked failed rather than risk a duplicate.

Transactions of a fresh answer with one part (each is a commit the next step depends on):
  1. the turn, its user and conversation read in one SELECT; routing, the LLM call included (the pipeline
     writes nothing before it — the user's language is stored with the answer — so it holds no row lock
     across the call, and the webhook's user upsert never waits on it); the parts stored — the first
     already `submitting`, which claims it — with the turn's route, the conversation's counters and the
     user's language; commit.
  2. the REST call; then, in one round trip, the SID's lock, its SID stored with any status callbacks that
     beat it and the turn marked `processed` (see `bot.status`); left for the caller to commit with its next
     read.
A longer answer claims part k+1 in the commit that stores part k's SID. A re-run (parts already stored) and
the reminders (`deliver`) take the step-by-step path: claim, send, store, each committed.
"""
from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, exists, func, insert, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from bot import catalog, router, status
from bot.errors import SendError
from bot.locks import UserLock
from bot.runtime import Runtime
from bot.splitting import split_message
from bot.sql import prebuilt
from bot.turns import OutboundMessage, SendResult
from models import STATUS_RANK, Conversation, Message, MessageAttachment, User
from models.base import JSONType, utcnow

log = logging.getLogger(__name__)

_MESSAGES = Message.__table__
_ANSWER = aliased(Message)
# The user's oldest turn awaiting an answer, with its user and conversation, whether an earlier run already
# stored its answer, and how many of the user's turns were waiting: one round trip instead of four.
NEXT_TURN = (select(Message, User, Conversation, exists().where(_ANSWER.reply_to_id == Message.id),
                    func.count().over())
             .join(User, User.id == Message.user_id)
             .join(Conversation, Conversation.id == Message.conversation_id)
             .where(Message.user_id == bindparam("user_id"), Message.direction == "inbound",
                    Message.status == "received")
             .order_by(Message.id).limit(1)
             .execution_options(populate_existing=True))
PENDING_TURNS = select(func.count()).where(Message.user_id == bindparam("user_id"), Message.direction == "inbound",
                                           Message.status == "received")
ROUTED = (update(_MESSAGES).where(_MESSAGES.c.id == bindparam("p_id"))
          .values(language=bindparam("p_language"), route=bindparam("p_route"), route_key=bindparam("p_key"),
                  confidence=bindparam("p_confidence"), tool_used=bindparam("p_tool"),
                  action_taken=bindparam("p_action")))
_CONVERSATIONS = Conversation.__table__
REPLY_COUNTED = (update(_CONVERSATIONS).where(_CONVERSATIONS.c.id == bindparam("p_id"))
                 .values(context=bindparam("p_context", type_=JSONType),
                         message_count=_CONVERSATIONS.c.message_count + bindparam("p_parts"),
                         last_message_at=bindparam("p_now")))
FINISHED = (update(_MESSAGES).where(_MESSAGES.c.id == bindparam("p_id"))
            .values(status=bindparam("p_status"), updated_at=bindparam("p_now")))
FINISHED_WITH_ERROR = FINISHED.values(error_message=bindparam("p_error"))
# the parts of an answer, in one round trip (insertmanyvalues), their ids in the rows' order
INSERT_PARTS = insert(_MESSAGES).returning(_MESSAGES.c.id, sort_by_parameter_order=True)
# PostgreSQL: a one-part answer's INSERT with the turn's route and the conversation's counters as
# data-modifying CTEs — one round trip instead of three (SQLite has no such CTEs: it runs the three). Written
# once as SQL: the Core construct processed its 30-odd parameters at several times the cost.
PART_COLUMNS = ("conversation_id", "user_id", "direction", "role", "body", "status", "status_rank", "reply_to_id",
                "part_index", "part_count", "route", "route_key", "confidence", "language", "created_at",
                "updated_at", "tool_used", "action_taken", "metadata", "model", "prompt_tokens", "completion_tokens",
                "latency_ms")
_ROUTED_CTE = ("routed AS (UPDATE messages SET language = :r_language, route = :r_route, route_key = :r_key, "
               "confidence = :r_confidence, tool_used = :r_tool, action_taken = :r_action WHERE id = :r_id)")
_COUNTED_CTE = ("counted AS (UPDATE conversations SET context = :c_context, message_count = message_count + :c_parts, "
                "last_message_at = :c_now WHERE id = :c_id)")
# ... and the user's language remembered, when this turn changes it (a new user's first written message)
_SPOKEN_CTE = "spoken AS (UPDATE users SET preferred_language = :u_language, updated_at = now() WHERE id = :u_id)"
_INSERT_PART = (f"INSERT INTO messages (message_type, {', '.join(PART_COLUMNS)}) "
                f"VALUES ('text', {', '.join(':i_' + column for column in PART_COLUMNS)}) RETURNING id")
_TYPED = dict(json=("i_metadata", "c_context"))
INSERT_ONE_PART_ROUTED = prebuilt(f"WITH {_ROUTED_CTE}, {_COUNTED_CTE} {_INSERT_PART}",
                                  "i_created_at", "i_updated_at", "c_now", **_TYPED)
INSERT_ONE_PART_ROUTED_SPOKEN = prebuilt(f"WITH {_ROUTED_CTE}, {_COUNTED_CTE}, {_SPOKEN_CTE} {_INSERT_PART}",
                                         "i_created_at", "i_updated_at", "c_now", **_TYPED)
CLAIMED = (update(_MESSAGES).where(_MESSAGES.c.id == bindparam("p_id"), _MESSAGES.c.status == "pending")
           .values(status="submitting", status_rank=STATUS_RANK["submitting"], updated_at=bindparam("p_now")))


@dataclass
class Turn:
    """An inbound turn awaiting its answer, as `next_turn` reads it."""

    message: Message
    user: User
    conversation: Conversation
    answered: bool  # an earlier run stored its answer's parts
    waiting: int  # the user's turns awaiting an answer when this one was read, this one included


def next_turn(session: Session, user_id: int) -> Turn | None:
    """The user's oldest turn still `received`, or None."""
    row = session.execute(NEXT_TURN, {"user_id": user_id}).first()
    return None if row is None else Turn(*row)


def answer_turn(session: Session, rt: Runtime, turn: Turn, lock: UserLock) -> None:
    """Answers one stored inbound turn, exactly once, and marks it processed.

    Everything is committed but the last writes (the last part's outcome, the turn marked processed): the
    caller commits them, with its next read (`next_turn`) — one transaction fewer per turn.
    """
    inbound = turn.message
    parts = _parts_of(session, inbound.id) if turn.answered else []
    fresh = not parts
    if fresh:
        ctx = _context(session, rt, turn)
        parts = _store_reply(session, inbound, turn.user, ctx.conversation, ctx.language, router.route(ctx))
    _send_parts(session, rt, parts, turn.user.phone, lock, inbound.id, fresh, {"p_status": "processed"})


def answer_after_failure(session: Session, rt: Runtime, inbound_id: int, lock: UserLock, error: str) -> None:
    """A turn that failed while being answered still gets an answer — the bilingual fallback, unless its
    answer was already stored — and is marked failed with the error (the logs hold the traceback). Like
    `answer_turn`, it leaves its last writes for the caller to commit."""
    inbound = session.get(Message, inbound_id)
    parts = _parts_of(session, inbound_id)
    user = session.get(User, inbound.user_id)
    fresh = not parts
    if fresh:
        language = _language_of(inbound, user)
        reply = router.Reply(catalog.say_both("fallback", language), "fallback", language,
                             meta={"after_error": True})
        parts = _store_reply(session, inbound, user, session.get(Conversation, inbound.conversation_id), language,
                             reply)
    _send_parts(session, rt, parts, user.phone, lock, inbound_id, fresh,
                {"p_status": "failed", "p_error": error[:1000]})


def _finish(session: Session, inbound_id: int, outcome: dict) -> None:
    session.execute(FINISHED_WITH_ERROR if "p_error" in outcome else FINISHED,
                    {"p_id": inbound_id, "p_now": utcnow(), **outcome})


def _send_parts(session: Session, rt: Runtime, parts: list[Message] | list[StoredPart], phone: str, lock: UserLock,
                inbound_id: int, fresh: bool, outcome: dict) -> None:
    """Sends the parts in order; the turn gets `outcome` with the last write (uncommitted, see `answer_turn`).
    `fresh`: this run stored the parts just now, the first one claimed."""
    if fresh:
        _send_fresh(session, rt, parts, phone, lock, inbound_id, outcome)
        return
    _send_stored(session, rt, parts, phone, lock)
    _finish(session, inbound_id, outcome)


def _send_stored(session: Session, rt: Runtime, parts: list[Message], phone: str, lock: UserLock) -> None:
    """Parts an earlier run stored: one found `submitting` may have been sent, so it is marked failed."""
    for part in parts:
        lock.renew()
        if part.status == "submitting":
            _mark_failed(session, part, None, "interrupted while submitting; not resent to avoid a duplicate")
        elif part.status == "pending" and not deliver(session, rt, part, phone):
            _fail_rest(session, parts, part)
            break


def _send_fresh(session: Session, rt: Runtime, parts: list[StoredPart], phone: str, lock: UserLock,
                inbound_id: int, outcome: dict) -> None:
    """Parts this run stored with the first one `submitting`: each SID is stored in the commit that claims
    the next part, the last one's with the turn's outcome."""
    for i, part in enumerate(parts):
        lock.renew()
        result = _submit(rt, part, outbound_for(part, phone))
        now = utcnow()
        if isinstance(result, SendError):  # failed for good: later parts would arrive out of context
            _failed_rows(session, part, result.code, str(result), now)
            for later in parts[i + 1:]:
                _failed_rows(session, later, result.code, f"not sent: part {part.part_index + 1} failed", now)
            _finish(session, inbound_id, outcome)
            break
        following = parts[i + 1] if i + 1 < len(parts) else None
        # the last part's SID and the turn's outcome in one round trip (an error message needs its own UPDATE)
        finish_here = following is None and "p_error" not in outcome
        status.store_sid(session, part.id, result.provider_id, result.status, now,
                         finish_turn=(inbound_id, outcome["p_status"]) if finish_here else None)
        log.info("sent message_id=%s message_sid=%s part=%d/%d", part.id, result.provider_id,
                 part.part_index + 1, part.part_count)
        if following is None:
            if not finish_here:
                _finish(session, inbound_id, outcome)
            break
        claimed = session.execute(CLAIMED, {"p_id": following.id, "p_now": now}).rowcount == 1
        session.commit()
        if not claimed:  # not ours any more (only if the user's lock was lost): the careful path decides
            _send_stored(session, rt, _parts_of(session, inbound_id)[i + 1:], phone, lock)
            _finish(session, inbound_id, outcome)
            break


def _failed_rows(session: Session, part: StoredPart, code: int | None, error: str, now) -> None:
    session.execute(update(_MESSAGES).where(_MESSAGES.c.id == part.id)
                    .values(status="failed", status_rank=STATUS_RANK["failed"], error_code=code,
                            error_message=error[:1000], updated_at=now))
    log.error("send failed message_id=%s code=%s error=%s", part.id, code, error)


def _context(session: Session, rt: Runtime, turn: Turn) -> router.TurnContext:
    inbound = turn.message
    attachments = [] if inbound.message_type == "text" else list(  # intake stores none for a plain text
        session.scalars(select(MessageAttachment).where(MessageAttachment.message_id == inbound.id)))
    return router.TurnContext(session=session, message=inbound, attachments=attachments, user=turn.user,
                              conversation=turn.conversation, language=_language_of(inbound, turn.user),
                              knowledge=rt.knowledge.get(session), assistant=rt.assistant, settings=rt.settings)


def _language_of(inbound: Message, user: User) -> str:
    """The language to answer in: the user's explicit choice, else the language of this text (remembered
    for messages the bot starts, by `_store_reply`), else of their last written message — which is the
    remembered one — for a turn without letters (a menu number, a photo, "👍")."""
    if user.language_explicit and user.preferred_language:
        return user.preferred_language
    if _has_letters(inbound.body):
        return catalog.detect_language(inbound.body)
    return user.preferred_language or "en"


def _has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def _parts_of(session: Session, inbound_id: int) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.reply_to_id == inbound_id)
                                .order_by(Message.part_index)))


@dataclass(frozen=True)
class StoredPart:
    """A part `_store_reply` just inserted: what sending it needs (`outbound_for` reads `body` and `meta`)."""

    id: int
    body: str
    meta: dict | None
    part_index: int
    part_count: int


def _store_reply(session: Session, inbound: Message, user: User, conversation: Conversation, language: str,
                 reply: router.Reply) -> list[StoredPart]:
    """Stores the answer's parts, the first one already claimed (`submitting`), and commits with them the
    turn's route, the conversation's counters and state, and the language of a written message (deferred to
    here so that nothing written before the LLM call holds a row lock across it)."""
    texts = split_message(reply.text)
    now = utcnow()
    rows = [{"conversation_id": inbound.conversation_id, "user_id": inbound.user_id, "direction": "outbound",
             "role": "assistant", "body": text, "status": "submitting" if i == 0 else "pending",
             "status_rank": STATUS_RANK["submitting"] if i == 0 else 0, "reply_to_id": inbound.id,
             "part_index": i, "part_count": len(texts), "route": reply.route, "route_key": reply.route_key,
             "confidence": reply.confidence, "language": reply.language, "created_at": now, "updated_at": now,
             "tool_used": reply.tool_used, "action_taken": reply.action_taken,
             # a location pin or template goes with the first part only
             "metadata": ({**reply.meta, "send": reply.send} if reply.send and i == 0 else reply.meta) or None,
             # usage belongs to the answer as a whole: recorded once, on its first part
             "model": reply.model, "prompt_tokens": reply.prompt_tokens if i == 0 else None,
             "completion_tokens": reply.completion_tokens if i == 0 else None,
             "latency_ms": reply.latency_ms if i == 0 else None}
            for i, text in enumerate(texts)]
    # an explicit choice made by this turn ("English", "عربي") stands
    remember = not user.language_explicit and _has_letters(inbound.body) and user.preferred_language != language
    context = {**(conversation.context or {}), "awaiting": reply.awaiting}
    routed = {"language": language, "route": reply.route, "key": reply.route_key,
              "confidence": reply.confidence, "tool": reply.tool_used, "action": reply.action_taken}
    if len(rows) == 1 and session.get_bind().dialect.name == "postgresql":
        params = {**{f"i_{k}": v for k, v in rows[0].items()}, "r_id": inbound.id,
                  **{f"r_{k}": v for k, v in routed.items()},
                  "c_id": conversation.id, "c_context": context, "c_parts": 1, "c_now": now}
        if remember:  # in the same statement, not an ORM flush of its own
            params.update(u_id=user.id, u_language=language)
        ids = session.execute(INSERT_ONE_PART_ROUTED_SPOKEN if remember else INSERT_ONE_PART_ROUTED,
                              params).scalars().all()
        if remember:
            set_committed_value(user, "preferred_language", language)
            session.expire(user, ["updated_at"])
    else:
        if remember:  # the ORM flushes it with the rest
            user.preferred_language = language
        ids = session.execute(INSERT_PARTS, rows[0] if len(rows) == 1 else rows).scalars().all()
        session.execute(ROUTED, {"p_id": inbound.id, **{f"p_{k}": v for k, v in routed.items()}})
        session.execute(REPLY_COUNTED, {"p_id": conversation.id, "p_context": context, "p_parts": len(rows),
                                        "p_now": now})
    set_committed_value(conversation, "context", context)  # written just now (a handler's change included)
    session.commit()
    log.info("reply stored message_id=%s route=%s key=%s confidence=%s parts=%d", inbound.id, reply.route,
             reply.route_key, reply.confidence, len(rows))
    return [StoredPart(part_id, row["body"], row["metadata"], row["part_index"], row["part_count"])
            for part_id, row in zip(ids, rows, strict=True)]


def _claim(session: Session, part: Message) -> bool:
    claimed = session.execute(update(Message).where(Message.id == part.id, Message.status == "pending")
                              .values(status="submitting", status_rank=STATUS_RANK["submitting"],
                                      updated_at=utcnow())).rowcount
    session.commit()
    return claimed == 1


def deliver(session: Session, rt: Runtime, part: Message, phone: str) -> bool:
    """Sends one stored outbound part with bounded backoff on transient errors.

    Bot-initiated messages (reminders) and parts stored by an earlier run use it, so they get the same claim,
    retries, permanent-error handling and status callbacks as a fresh reply's parts (`_send_fresh`).

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
    result = _submit(rt, part, outbound_for(part, phone))
    if isinstance(result, SendError):
        _mark_failed(session, part, result.code, str(result))
        return False
    _mark_submitted(session, part, result.provider_id, result.status)
    return True


def _submit(rt: Runtime, part: Message | StoredPart, outbound: OutboundMessage) -> SendResult | SendError:
    """The REST call, retried with backoff on transient errors; the error that ended it, if it failed."""
    attempts = rt.settings.send_max_attempts
    for attempt in range(1, attempts + 1):
        try:
            return rt.sender.send(outbound)
        except SendError as exc:
            if not exc.transient or attempt == attempts:
                return exc
            delay = rt.settings.send_backoff_seconds * 2 ** (attempt - 1) * random.uniform(0.8, 1.2)
            log.warning("send retry message_id=%s attempt=%d code=%s delay=%.2fs", part.id, attempt,
                        exc.code, delay)
            time.sleep(min(delay, 8.0))
    raise AssertionError("not reached: the last attempt returns")


def outbound_for(part: Message | StoredPart, phone: str) -> OutboundMessage:
    """The REST call for a stored part: its text, and the first part's pin or template if it has one."""
    send = (part.meta or {}).get("send") or {}
    return OutboundMessage(to_phone=phone, body=part.body, content_sid=send.get("content_sid"),
                           content_variables=send.get("content_variables"),
                           persistent_action=tuple(send.get("persistent_action") or ()),
                           media_urls=tuple(send.get("media_urls") or ()))


def _mark_submitted(session: Session, part: Message, sid: str, provider_status: str) -> None:
    """Stores the SID with the callbacks that beat it, and commits."""
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
    for part in parts:
        if part.part_index > failed.part_index and part.status == "pending":
            _mark_failed(session, part, code, f"not sent: part {failed.part_index + 1} failed")


def pending_turns(session: Session, user_id: int) -> int:
    """How many of the user's turns await an answer, read in autocommit on a connection of its own: one round
    trip, no BEGIN or COMMIT, whatever the session's state."""
    with session.get_bind().engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        return connection.execute(PENDING_TURNS, {"user_id": user_id}).scalar_one()


def stale_turns(session: Session, waited: timedelta) -> list[tuple[int, int]]:
    """(user id, oldest waiting turn id) for each user with a turn unanswered for longer than `waited`."""
    rows = session.execute(select(Message.user_id, func.min(Message.id))
                           .where(Message.direction == "inbound", Message.status == "received",
                                  Message.created_at < utcnow() - waited)
                           .group_by(Message.user_id)).all()
    return [(user_id, message_id) for user_id, message_id in rows]
