"""The routing seam: a user talking to the router, with no webhook, worker or fake Twilio.

Each turn is stored as intake stores it (`store_inbound`), read back as the reply run reads it (`next_turn`),
routed with the `TurnContext` the answerer builds, and its reply stored as the conversation stage stores it
(parts, route, dialog state, the user's language) — everything but sending. So a routing table judges the
same rows production writes, at a fraction of the cost of a webhook and an RQ worker per turn.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from bot.channels.messages import Attachment, InboundTurn
from bot.conversation import router
from bot.conversation.pending import next_turn
from bot.conversation.reply_store import store_reply
from bot.core.db import db
from bot.delivery.sending import finish_turn
from bot.dialog.context import Reply
from bot.intake.store import store_inbound
from models import Conversation, Message


@dataclass
class Said:
    """What one turn did."""

    reply: Reply  # what the router answered
    inbound: Message  # the stored turn
    stored: Message  # the reply's first stored part (route, route_key, action_taken, language...)
    awaiting: dict | None  # the conversation's dialog state after the turn

    @property
    def body(self) -> str:
        return self.stored.body

    @property
    def route(self) -> tuple:
        return self.stored.route, self.stored.route_key, self.stored.action_taken


class Chat:
    """One WhatsApp user talking to the app's router."""

    def __init__(self, app, phone: str, profile: str | None = "Test Attendee") -> None:
        self.app, self.phone, self.profile = app, phone, profile

    def say(self, text: str, attachments: tuple[Attachment, ...] = (), message_type: str = "text",
            meta: dict | None = None) -> Said:
        turn = InboundTurn(channel_message_id="SM" + secrets.token_hex(16), phone=self.phone, body=text,
                           message_type=message_type, wa_id=self.phone.lstrip("+"), profile_name=self.profile,
                           attachments=attachments, meta=meta or {})
        with self.app.app_context():
            rt = self.app.extensions["runtime"]
            with db.engine.begin() as connection:
                stored = store_inbound(connection, turn, timedelta(minutes=rt.settings.conversation_idle_minutes))
            with db.session_scope() as session:
                pending = next_turn(session, stored.user_id)
                assert pending is not None and pending.message.id == stored.message_id, "a turn was left unanswered"
                ctx = rt.answerer.context(session, pending)
                reply = router.route(ctx)
                store_reply(session, pending.message, pending.user, ctx.conversation, ctx.language, reply)
                finish_turn(session, pending.message.id, {"p_status": "processed"})
            return self._said(reply, stored.message_id)

    def walk(self, *texts: str) -> Said:
        """Says each text in turn; returns the last turn."""
        said = None
        for text in texts:
            said = self.say(text)
        return said

    def _said(self, reply: Reply, inbound_id: int) -> Said:
        with db.session_scope() as session:
            inbound = session.get(Message, inbound_id)
            first = session.scalars(select(Message).where(Message.reply_to_id == inbound_id)
                                    .order_by(Message.part_index)).first()
            awaiting = (session.get(Conversation, inbound.conversation_id).context or {}).get("awaiting")
        return Said(reply, inbound, first, awaiting)
