"""The routing seam: a user talking to the router, with no webhook, worker or fake Twilio.

Each turn is stored as intake stores it (`store_inbound`), read back as the reply run reads it (`next_turn`),
routed with the `TurnContext` the answerer builds, and its reply stored as the conversation stage stores it
(parts, route, dialog state, the user's language) — everything but sending. So a routing table judges the
same rows production writes, at a fraction of the cost of a webhook and an RQ worker per turn.

A recorded Twilio form (tests/data/) goes through the webhook's own parser (`deliver`), so media, locations and
button payloads reach the router as they would in production. tests/dialog/test_end_to_end.py keeps a few
journeys on the full path (webhook, RQ worker, fake Twilio) to show the two agree.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from bot.channels.messages import Attachment, InboundTurn
from bot.channels.twilio.inbound import parse_inbound
from bot.conversation.pending import next_turn
from bot.core.db import db
from bot.delivery.sending import finish_turn
from bot.dialog.context import Reply
from bot.intake.store import store_inbound
from models import Conversation, Message, User
from models.base import utcnow


@dataclass
class Said:
    """What one turn did."""

    reply: Reply  # what the router answered
    inbound: Message  # the stored turn
    stored: Message | None  # the reply's first stored part (route, route_key, action_taken...); None if silent
    awaiting: dict | None  # the conversation's dialog state after the turn

    @property
    def body(self) -> str:
        """The first part's text: what is sent ("" for a silent turn)."""
        return self.stored.body if self.stored is not None else ""

    @property
    def route(self) -> tuple:
        if self.stored is None:  # a silent turn (a person owns the conversation): its route is on the turn
            return self.inbound.route, self.inbound.route_key, None
        return self.stored.route, self.stored.route_key, self.stored.action_taken

    @property
    def send(self) -> dict:
        """How the first part is to be sent (a location pin...), as delivery reads it from the stored part."""
        return (self.stored.meta or {}).get("send") or {}


class Chat:
    """One WhatsApp user talking to the app's router."""

    def __init__(self, app, phone: str, profile: str | None = "Test Attendee") -> None:
        self.app, self.phone, self.profile = app, phone, profile

    def say(self, text: str, attachments: tuple[Attachment, ...] = (), message_type: str = "text",
            meta: dict | None = None) -> Said:
        turn = InboundTurn(channel_message_id="SM" + secrets.token_hex(16), phone=self.phone, body=text,
                           message_type=message_type, wa_id=self.phone.lstrip("+"), profile_name=self.profile,
                           attachments=attachments, meta=meta or {})
        return self.answer(turn)

    def walk(self, *texts: str) -> Said:
        """Says each text in turn; returns the last turn."""
        said = None
        for text in texts:
            said = self.say(text)
        return said

    def answer(self, turn: InboundTurn) -> Said:
        """Stores `turn` as intake does, routes it as the reply run does and stores the reply."""
        assert turn.phone == self.phone, f"{turn.phone} is not this chat's user"
        with self.app.app_context():
            rt = self.app.extensions["runtime"]
            with db.engine.begin() as connection:
                stored = store_inbound(connection, turn, timedelta(minutes=rt.settings.conversation_idle_minutes))
            with db.session_scope() as session:
                pending = next_turn(session, stored.user_id)
                assert pending is not None and pending.message.id == stored.message_id, "a turn was left unanswered"
                reply, language = rt.answerer.reply(session, pending)  # the TurnContext and the router
                if rt.answerer.record(session, pending, reply, language):  # a silent turn is finished already
                    finish_turn(session, pending.message.id, {"p_status": "processed"})
            return self._said(reply, stored.message_id)

    def user(self) -> User:
        with self.app.app_context(), db.session_scope() as session:
            return session.scalars(select(User).where(User.phone == self.phone)).one()

    def conversation(self) -> Conversation:
        """The user's active conversation."""
        with self.app.app_context(), db.session_scope() as session:
            return session.scalars(select(Conversation).join(User, User.id == Conversation.user_id)
                                   .where(User.phone == self.phone, Conversation.status == "active")).one()

    def age_dialog(self, minutes: int) -> None:
        """Moves the conversation's dialog state `minutes` into the past."""
        with self.app.app_context(), db.session_scope() as session:
            conversation = session.get(Conversation, self.conversation().id)
            awaiting = dict(conversation.context["awaiting"], at=(utcnow() - timedelta(minutes=minutes)).isoformat())
            conversation.context = {**conversation.context, "awaiting": awaiting}

    def _said(self, reply: Reply, inbound_id: int) -> Said:
        with db.session_scope() as session:
            inbound = session.get(Message, inbound_id)
            first = session.scalars(select(Message).where(Message.reply_to_id == inbound_id)
                                    .order_by(Message.part_index)).first()
            awaiting = (session.get(Conversation, inbound.conversation_id).context or {}).get("awaiting")
        assert first is not None or reply.silent, f"no reply to {inbound.body!r}"
        return Said(reply, inbound, first, awaiting)


def deliver(app, form: dict) -> Said:
    """Routes a Twilio webhook form (a recorded payload) as the webhook parses it, from the user who sent it."""
    turn = parse_inbound(form)
    return Chat(app, turn.phone, turn.profile_name).answer(turn)
