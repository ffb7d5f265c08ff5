"""What every handler sees and returns: `TurnContext` (the turn with its user, conversation, dialog state and
the matcher's decision), `Reply`, and the `Handler` protocol the router (bot/conversation/router.py) tries in
order.

A handler is tested by building a `TurnContext` and calling it (or the router), with no webhook, worker or
Twilio: tests/dialog/ does exactly that.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.dialog import state
from bot.llm.assistant import Assistant
from bot.nlu.knowledge import Decision, Knowledge
from models import Conversation, Message, MessageAttachment, User


@dataclass
class TurnContext:
    session: Session
    message: Message
    attachments: list[MessageAttachment]
    user: User
    conversation: Conversation
    language: str
    knowledge: Knowledge
    assistant: Assistant
    settings: object
    turn_counter: object | None = None  # counts a user's turns per minute in Redis (bot/core/rate_limit.py)
    # what the turn's read already knows (bot/conversation/pending.py): False spares the gate its query
    maybe_banned: bool = True
    maybe_handed_off: bool = True
    # notices a gate that let the turn pass on wants sent with whatever answers it (a flagged message's team)
    notices: list = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.message.body.strip()

    @property
    def awaiting(self) -> dict | None:
        """The dialog state the conversation is in, unless it has expired (bot/dialog/state.py); for a reply to
        one of the bot's messages (WhatsApp's "reply"), the step that message asked."""
        replied = self.replied_to
        if replied is not None and (replied.meta or {}).get("state"):
            return state.stamped(replied.meta["state"])
        return state.live(self.conversation.context, self.settings.dialog_idle_minutes)

    @cached_property
    def replied_to(self) -> Message | None:
        """The bot's message this turn replies to (`OriginalRepliedMessageSid`), if it is this user's."""
        sid = (self.message.meta or {}).get("OriginalRepliedMessageSid")
        if not sid:
            return None
        return self.session.scalars(select(Message).where(Message.twilio_sid == sid, Message.user_id == self.user.id,
                                                          Message.direction == "outbound")).first()

    @property
    def resume(self) -> dict | None:
        """A journey step a side question interrupted, still answerable (bot/dialog/state.py)."""
        return state.live(self.conversation.context, self.settings.dialog_idle_minutes, key=state.RESUME)

    @property
    def in_step(self) -> bool:
        """The user is in the middle of a journey step (or one a question interrupted)."""
        awaiting = self.awaiting
        return bool(awaiting and awaiting.get("kind") in state.STEP_KINDS) or self.resume is not None

    @property
    def subject(self) -> int | None:
        """The event the conversation is about (last shown, booked or asked about), while it is recent."""
        return state.live_subject(self.conversation.context, self.settings.dialog_idle_minutes)

    @cached_property
    def decision(self) -> Decision:
        return self.knowledge.decide(without_greeting(self.text), role=self.user.role,
                                     llm_available=self.assistant.llm is not None)


# "السلام عليكم، متى يبدأ الحفل؟" / "Hi, when does it start?": the greeting is politeness, the question is the
# message. A greeting alone still goes to the greeting intent.
_GREETING = (r"((as+)?salam+u?( ?[3a]l[ae]i?kum)?|hi+|hello+|hey+|good (morning|evening|afternoon)|marhaba|ahlan|hala|"
             r"السلام عليكم( ورحمة الله| ورحمه الله)?( وبركاته)?|سلام عليكم|مرحبا|مرحبتين|اهلا|أهلا|اهلين|أهلين|"
             r"(يا )?هلا( والله| وغلا| فيك| بك)?|صباح الخير|صباح النور|مساء الخير|مساء النور)"
             r"(\s+(there|all|يا اخي|يا أخي|يا جماعة))?")
_ONLY_GREETING = re.compile(rf"^\s*{_GREETING}[\s,،.!؟?]*$", re.IGNORECASE)
_GREETING_OPENER = re.compile(rf"^\s*{_GREETING}[\s,،.!؟?:-]+(?=\S)", re.IGNORECASE)


def without_greeting(text: str) -> str:
    """The text after an opening greeting, when something follows it; else the text as it is."""
    if _ONLY_GREETING.match(text):
        return text
    return _GREETING_OPENER.sub("", text, count=1) or text


@dataclass(frozen=True)
class Reply:
    text: str
    route: str
    language: str
    route_key: str | None = None
    confidence: float | None = None
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float | None = None
    meta: dict = field(default_factory=dict)
    awaiting: dict | None = None  # the dialog state this reply leaves the conversation in
    send: dict = field(default_factory=dict)  # how to send the first part: content_sid, persistent_action...
    tool_used: str | None = None  # LLM tools the turn called, comma-separated
    action_taken: str | None = None  # what the turn changed (registration_created, ticket_cancelled, ...)
    subject: int | None = None  # the event this reply is about: "how much is it?" next means this one
    silent: bool = False  # a person owns the conversation (a handoff): the turn is stored, nothing is sent
    notify: tuple = ()  # messages to others beside the answer (bot.delivery.notify.Notice)


class Handler(Protocol):
    def match(self, ctx: TurnContext) -> bool: ...
    def handle(self, ctx: TurnContext) -> Reply | None:
        """The reply, or None to let the next handler try."""
