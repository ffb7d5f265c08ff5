"""Answering one stored inbound turn: route it, store the answer's parts, send them in order.

Each step is recorded before the next starts, so a job run again after a crash resumes without asking the
LLM twice and without sending a part twice (bot/delivery/sending.py).

Transactions of a fresh answer with one part (each is a commit the next step depends on):
  1. the turn, its user and conversation read in one SELECT (`bot.conversation.pending`); routing, the LLM call
     included (nothing is written before it — the user's language is stored with the answer — so no row lock
     is held across the call, and the webhook's user upsert never waits on it); the parts stored — the first
     already `submitting`, which claims it — with the turn's route, the conversation's counters and the
     user's language; commit.
  2. the REST call; then, in one round trip, the SID's lock, its SID stored with any status callbacks that
     beat it and the turn marked `processed` (see `bot.delivery.status`); left for the caller to commit with
     its next read.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversation import router
from bot.conversation.pending import Turn
from bot.conversation.reply_store import has_letters, store_reply, store_silence
from bot.core.locks import UserLock
from bot.delivery.notify import send_notices
from bot.delivery.sending import Dispatcher, parts_of
from bot.dialog.context import Reply, TurnContext
from bot.i18n import catalog
from bot.llm.assistant import Assistant
from bot.nlu.knowledge_cache import KnowledgeCache
from bot.nlu.normalize import detect_language
from models import Conversation, Message, MessageAttachment, User


class Answerer:
    """Answers turns with the bot's collaborators (built once per process by `bot.wiring`)."""

    def __init__(self, knowledge: KnowledgeCache, assistant: Assistant, settings, dispatcher: Dispatcher,
                 turn_counter=None) -> None:
        self.knowledge = knowledge
        self.assistant = assistant
        self.settings = settings
        self.dispatcher = dispatcher
        self.turn_counter = turn_counter  # the rate limit's, with Redis (bot/core/rate_limit.py)
        self.idle_gap = timedelta(minutes=settings.conversation_idle_minutes)

    def answer(self, session: Session, turn: Turn, lock: UserLock) -> None:
        """Answers one stored inbound turn, exactly once, and marks it processed.

        Everything is committed but the last writes (the last part's outcome, the turn marked processed): the
        caller commits them with its next read (`next_turn`) — one transaction fewer per turn.
        """
        inbound = turn.message
        if turn.answered:  # an earlier run stored the answer: send what it did not
            parts = parts_of(session, inbound.id)
            self.dispatcher.send_answer(session, parts, turn.user.phone, lock, inbound.id, False,
                                        {"p_status": "processed"})
            return
        reply, language = self.reply(session, turn)
        parts = self.record(session, turn, reply, language)
        if parts:
            self.dispatcher.send_answer(session, parts, turn.user.phone, lock, inbound.id, True,
                                        {"p_status": "processed"})
        if reply.notify:
            session.commit()  # the answer's last writes first: a notice must not hold them back
            send_notices(session, self.dispatcher, self.idle_gap, reply.notify)

    def reply(self, session: Session, turn: Turn) -> tuple[Reply, str]:
        """What the router answers to the turn, and the turn's language (read before any handler ran)."""
        ctx = self.context(session, turn)
        return router.route(ctx), ctx.language

    def record(self, session: Session, turn: Turn, reply: Reply, language: str) -> list:
        """Stores the reply (its parts, the first claimed), or the silence of a turn a person owns; committed."""
        if reply.silent:
            store_silence(session, turn.message, turn.conversation, reply)
            return []
        return store_reply(session, turn.message, turn.user, turn.conversation, language, reply)

    def answer_after_failure(self, session: Session, inbound_id: int, lock: UserLock, error: str) -> None:
        """A turn that failed while being answered still gets an answer — the bilingual fallback, unless its
        answer was already stored — and is marked failed with the error (the logs hold the traceback). Like
        `answer`, it leaves its last writes for the caller to commit."""
        inbound = session.get(Message, inbound_id)
        parts = parts_of(session, inbound_id)
        user = session.get(User, inbound.user_id)
        fresh = not parts
        if fresh:
            language = language_of(inbound, user)
            reply = Reply(catalog.say_both("fallback", language), "fallback", language, meta={"after_error": True})
            parts = store_reply(session, inbound, user, session.get(Conversation, inbound.conversation_id),
                                language, reply)
        self.dispatcher.send_answer(session, parts, user.phone, lock, inbound_id, fresh,
                                    {"p_status": "failed", "p_error": error[:1000]})

    def context(self, session: Session, turn: Turn) -> TurnContext:
        """What the router needs to answer `turn`."""
        inbound = turn.message
        attachments = [] if inbound.message_type == "text" else list(  # intake stores none for a plain text
            session.scalars(select(MessageAttachment).where(MessageAttachment.message_id == inbound.id)))
        return TurnContext(session=session, message=inbound, attachments=attachments, user=turn.user,
                           conversation=turn.conversation, language=language_of(inbound, turn.user),
                           knowledge=self.knowledge.get(session), assistant=self.assistant, settings=self.settings,
                           turn_counter=self.turn_counter, maybe_banned=turn.maybe_banned,
                           maybe_handed_off=turn.maybe_handed_off)


def language_of(inbound: Message, user: User) -> str:
    """The language to answer in: the user's explicit choice, else the language of this text (remembered
    for messages the bot starts, by `store_reply`), else of their last written message — which is the
    remembered one — for a turn without letters (a menu number, a photo, "👍")."""
    if user.language_explicit and user.preferred_language:
        return user.preferred_language
    if has_letters(inbound.body):
        return detect_language(inbound.body)
    return user.preferred_language or "en"
