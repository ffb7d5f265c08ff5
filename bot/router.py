"""Chooses who answers a turn: a list of small handlers tried in priority order, first match wins.

The spine has media, location, empty-message, LLM and fallback handlers; the understanding issue inserts
organizer commands, intents and FAQ before the LLM without touching the others.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import catalog
from bot.errors import LLMError
from bot.llm import SYSTEM_PROMPT, LanguageModel
from models import Message, MessageAttachment

log = logging.getLogger(__name__)


@dataclass
class TurnContext:
    session: Session
    message: Message
    attachments: list[MessageAttachment]
    language: str
    llm: LanguageModel | None
    history_turns: int


@dataclass(frozen=True)
class Reply:
    text: str
    route: str
    language: str
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float | None = None
    meta: dict = field(default_factory=dict)


class Handler(Protocol):
    route: str

    def match(self, ctx: TurnContext) -> bool: ...
    def handle(self, ctx: TurnContext) -> Reply | None:
        """The reply, or None to let the next handler try."""


class MediaHandler:
    route = "media"

    def match(self, ctx: TurnContext) -> bool:
        return not ctx.message.body.strip() and any(a.kind == "media" for a in ctx.attachments)

    def handle(self, ctx: TurnContext) -> Reply:
        media = next(a for a in ctx.attachments if a.kind == "media")
        kind = (media.content_type or "media").split("/")[0]
        kind = "document" if kind == "application" else kind
        names = catalog.MEDIA_KINDS.get(kind, catalog.MEDIA_KINDS["media"])
        return Reply(catalog.say_both("media_received", ctx.language, kind=names), self.route, ctx.language)


class LocationHandler:
    route = "location"

    def match(self, ctx: TurnContext) -> bool:
        return not ctx.message.body.strip() and any(a.kind == "location" for a in ctx.attachments)

    def handle(self, ctx: TurnContext) -> Reply:
        place = next(a for a in ctx.attachments if a.kind == "location")
        label = f" ({place.label or place.address})" if (place.label or place.address) else ""
        return Reply(catalog.say_both("location_received", ctx.language, label=label), self.route, ctx.language)


class EmptyHandler:
    route = "empty"

    def match(self, ctx: TurnContext) -> bool:
        return not ctx.message.body.strip()

    def handle(self, ctx: TurnContext) -> Reply:
        return Reply(catalog.say_both("empty_message", ctx.language), self.route, ctx.language)


class LLMHandler:
    route = "llm"

    def match(self, ctx: TurnContext) -> bool:
        return ctx.llm is not None

    def handle(self, ctx: TurnContext) -> Reply | None:
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, *history(ctx), _user_turn(ctx)]
        try:
            done = ctx.llm.complete(messages)
        except LLMError as exc:
            log.warning("llm failed message_id=%s error=%s", ctx.message.id, exc)
            return None
        return Reply(done.text, self.route, ctx.language, model=done.model, prompt_tokens=done.prompt_tokens,
                     completion_tokens=done.completion_tokens, latency_ms=done.latency_ms,
                     meta={"finish_reason": done.finish_reason})


class FallbackHandler:
    route = "fallback"

    def match(self, ctx: TurnContext) -> bool:
        return True

    def handle(self, ctx: TurnContext) -> Reply:
        return Reply(catalog.say_both("fallback", ctx.language), self.route, ctx.language)


HANDLERS: list[Handler] = [MediaHandler(), LocationHandler(), EmptyHandler(), LLMHandler(), FallbackHandler()]


def route(ctx: TurnContext, handlers: list[Handler] | None = None) -> Reply:
    """Asks each handler in order; the fallback always answers, so a turn is never left in silence."""
    for handler in handlers or HANDLERS:
        if handler.match(ctx):
            reply = handler.handle(ctx)
            if reply is not None:
                return reply
    return FallbackHandler().handle(ctx)


def _user_turn(ctx: TurnContext) -> dict:
    text = ctx.message.body
    for a in ctx.attachments:
        if a.kind == "media":
            text += f"\n[the user attached a {a.content_type or 'file'}]"
        elif a.kind == "location":
            text += f"\n[the user shared a location: {a.latitude}, {a.longitude} {a.label or a.address or ''}]"
    return {"role": "user", "content": text.strip()}


def history(ctx: TurnContext) -> list[dict]:
    """The conversation's last turns before this one, oldest first; split replies are joined again."""
    rows = ctx.session.execute(
        select(Message.direction, Message.body, Message.reply_to_id)
        .where(Message.conversation_id == ctx.message.conversation_id, Message.id < ctx.message.id,
               Message.status != "failed")
        .order_by(Message.id.desc()).limit(ctx.history_turns * 3)).all()
    turns: list[dict] = []
    for row in reversed(rows):
        role = "user" if row.direction == "inbound" else "assistant"
        if turns and role == "assistant" and turns[-1]["role"] == "assistant":
            turns[-1]["content"] += " " + row.body
        elif row.body.strip():
            turns.append({"role": role, "content": row.body})
    return turns[-ctx.history_turns:]
