"""Storing an answer: its parts (split to WhatsApp's size, the first one already claimed), the turn's route,
the conversation's counters and dialog state, and the user's language — one commit, after the routing, so
nothing written before an LLM call holds a row lock across it."""
from __future__ import annotations

import logging

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.conversation.reply_rows import rows_for
from bot.delivery.sending import StoredPart
from bot.delivery.splitting import split_message
from bot.dialog import state
from bot.dialog.context import Reply
from models import STATUS_RANK, Conversation, Message, User
from models.base import utcnow

log = logging.getLogger(__name__)


def store_reply(session: Session, inbound: Message, user: User, conversation: Conversation, language: str,
                reply: Reply) -> list[StoredPart]:
    """Stores the answer's parts, the first one already claimed (`submitting`), and commits with them the
    turn's route, the conversation's counters and state, and the language of a written message."""
    texts = split_message(reply.text)
    now = utcnow()
    rows = [_part_row(inbound, reply, text, i, len(texts), now) for i, text in enumerate(texts)]
    if reply.awaiting:  # a reply to this message later ("2" to an older list) answers the step it asked
        rows[0]["metadata"] = {**(rows[0]["metadata"] or {}), "state": reply.awaiting}
    # an explicit choice made by this turn ("English", "عربي") stands
    remember = not user.language_explicit and has_letters(inbound.body) and user.preferred_language != language
    context = state.after_reply(conversation.context, reply.awaiting, reply.subject,
                                side_answer=reply.route != "dialog")
    routed = {"language": language, "route": reply.route, "key": reply.route_key,
              "confidence": reply.confidence, "tool": reply.tool_used, "action": reply.action_taken}
    ids = rows_for(session).store(session, rows, routed, inbound.id, conversation.id, context, now,
                                  user if remember else None, language)
    set_committed_value(conversation, "context", context)  # written just now (a handler's change included)
    session.commit()
    log.info("reply stored message_id=%s route=%s key=%s confidence=%s parts=%d", inbound.id, reply.route,
             reply.route_key, reply.confidence, len(rows))
    return [StoredPart(part_id, row["body"], row["metadata"], row["part_index"], row["part_count"])
            for part_id, row in zip(ids, rows, strict=True)]


def store_silence(session: Session, inbound: Message, conversation: Conversation, reply: Reply) -> None:
    """A turn answered by nobody on purpose (a person owns the conversation): its route recorded, marked
    processed, the dialog state kept; committed."""
    context = state.after_reply(conversation.context, reply.awaiting, reply.subject, side_answer=True)
    session.execute(update(Message).where(Message.id == inbound.id)
                    .values(route=reply.route, route_key=reply.route_key, status="processed", updated_at=utcnow()))
    session.execute(update(Conversation).where(Conversation.id == conversation.id).values(context=context))
    set_committed_value(conversation, "context", context)
    session.commit()
    log.info("turn left to a person message_id=%s route=%s", inbound.id, reply.route)


def has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def _part_row(inbound: Message, reply: Reply, text: str, i: int, count: int, now) -> dict:
    first = i == 0
    return {"conversation_id": inbound.conversation_id, "user_id": inbound.user_id, "direction": "outbound",
            "role": "assistant", "body": text, "status": "submitting" if first else "pending",
            "status_rank": STATUS_RANK["submitting"] if first else 0, "reply_to_id": inbound.id,
            "part_index": i, "part_count": count, "route": reply.route, "route_key": reply.route_key,
            "confidence": reply.confidence, "language": reply.language, "created_at": now, "updated_at": now,
            "tool_used": reply.tool_used, "action_taken": reply.action_taken,
            # a location pin or template goes with the first part only
            "metadata": ({**reply.meta, "send": reply.send} if reply.send and first else reply.meta) or None,
            # usage belongs to the answer as a whole: recorded once, on its first part
            "model": reply.model, "prompt_tokens": reply.prompt_tokens if first else None,
            "completion_tokens": reply.completion_tokens if first else None,
            "latency_ms": reply.latency_ms if first else None}
