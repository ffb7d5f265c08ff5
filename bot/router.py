"""Chooses who answers a turn: small handlers tried in priority order, first answer wins.

    media ▸ location ▸ empty ▸ menu ("menu" / "القائمة" from any step) ▸ pending dialog (journey steps:
    menu numbers, event choice, seats, yes/no confirmations; clarify number, 👍/👎, feedback text) ▸ a booking
    or cancelling request naming one event ▸ intent ▸ FAQ ▸ clarify ▸ LLM (with tools) ▸ fallback

Organizer commands join at the front with the organizers issue. Every reply records its route, the intent or
FAQ key and the confidence; the fallback always answers, so a turn is never left in silence.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

from sqlalchemy.orm import Session

from bot.assistant import Assistant
from bot.knowledge import Decision, Knowledge
from models import Conversation, Message, MessageAttachment, User

log = logging.getLogger(__name__)


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

    @property
    def text(self) -> str:
        return self.message.body.strip()

    @property
    def awaiting(self) -> dict | None:
        return (self.conversation.context or {}).get("awaiting")

    @cached_property
    def decision(self) -> Decision:
        return self.knowledge.decide(without_greeting(self.text), role=self.user.role,
                                     llm_available=self.assistant.llm is not None)


# "السلام عليكم، متى يبدأ الحفل؟" / "Hi, when does it start?": the greeting is politeness, the question is the
# message. A greeting alone still goes to the greeting intent.
_GREETING = (r"((as+)?salam+u?( ?[3a]l[ae]i?kum)?|hi+|hello+|hey+|good (morning|evening|afternoon)|marhaba|ahlan|"
             r"السلام عليكم( ورحمة الله| ورحمه الله)?( وبركاته)?|سلام عليكم|مرحبا|مرحبتين|اهلا|أهلا|هلا|صباح الخير|"
             r"مساء الخير)(\s+(there|all|يا اخي|يا أخي|يا جماعة))?")
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


class Handler(Protocol):
    def match(self, ctx: TurnContext) -> bool: ...
    def handle(self, ctx: TurnContext) -> Reply | None:
        """The reply, or None to let the next handler try."""


def default_handlers() -> list[Handler]:
    from bot.handlers import dialog, journeys, llm, media, understanding
    return [media.MediaHandler(), media.LocationHandler(), media.EmptyHandler(), journeys.MenuHandler(),
            journeys.JourneyDialogHandler(), dialog.PendingDialogHandler(), journeys.NamedEventHandler(),
            understanding.IntentHandler(), understanding.FAQHandler(), understanding.ClarifyHandler(),
            llm.LLMHandler(), llm.FallbackHandler()]


def route(ctx: TurnContext, handlers: list[Handler] | None = None) -> Reply:
    """Asks each handler in order; the fallback always answers."""
    from bot.handlers.llm import FallbackHandler
    for handler in handlers or default_handlers():
        if handler.match(ctx):
            reply = handler.handle(ctx)
            if reply is not None:
                return reply
    return FallbackHandler().handle(ctx)
