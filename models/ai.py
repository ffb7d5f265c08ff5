"""The LLM's records (seeds 000/002/003): interactions with feedback, the response cache, prompt templates
and context rules."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, UTCDateTime


class AIInteraction(Base):
    """One answer the bot gave from the LLM or the FAQ: what was asked, what came back, what it cost."""

    __tablename__ = "ai_interactions"
    __table_args__ = (Index("ix_ai_interactions_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    route: Mapped[str] = mapped_column(String(20))  # llm | faq
    route_key: Mapped[str | None] = mapped_column(String(100))
    prompt: Mapped[list | None] = mapped_column(JSONType)
    prompt_version: Mapped[str | None] = mapped_column(String(50))
    response: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(100))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    output_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cost_usd: Mapped[float] = mapped_column(Numeric(12, 6), default=0, server_default="0")
    latency_ms: Mapped[float | None] = mapped_column(Float)
    finish_reason: Mapped[str | None] = mapped_column(String(30))
    cache_hit: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    error: Mapped[str | None] = mapped_column(Text)
    feedback: Mapped[int | None] = mapped_column(SmallInteger)  # 1 helpful, -1 not helpful
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class ResponseCache(Base):
    """Answers to non-personal questions, keyed by normalised text and prompt version."""

    __tablename__ = "ai_response_cache"

    id: Mapped[int] = mapped_column(primary_key=True)
    cache_key: Mapped[str] = mapped_column(String(64), unique=True)
    normalized_text: Mapped[str] = mapped_column(Text)
    prompt_version: Mapped[str] = mapped_column(String(50))
    language: Mapped[str] = mapped_column(String(8))
    response: Mapped[str] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(100))
    hit_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    last_hit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class PromptTemplate(Base):
    """A versioned prompt with `{variables}`; the newest active version of a name is used."""

    __tablename__ = "prompt_templates"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    template: Mapped[str] = mapped_column(Text)
    variables: Mapped[list] = mapped_column(JSONType, default=list)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class ContextRule(Base):
    """What the assistant is and may talk about: persona, topics, reply language, maximum length."""

    __tablename__ = "context_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    persona: Mapped[str] = mapped_column(Text)
    allowed_topics: Mapped[list] = mapped_column(JSONType, default=list)
    excluded_topics: Mapped[list] = mapped_column(JSONType, default=list)
    reply_language: Mapped[str] = mapped_column(String(8), default="auto", server_default="auto")
    max_length: Mapped[int] = mapped_column(Integer, default=700, server_default="700")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
