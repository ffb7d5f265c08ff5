"""Messages (turns), their attachments, and Twilio status events (seed 000 `messages`, `message_attachments`).

An inbound turn is `received` until the reply job has answered it (`processed`). An outbound turn moves
through `pending` (stored, not yet handed to Twilio) and `submitting` (the REST call is under way) to
Twilio's statuses; `STATUS_RANK` keeps
late or repeated status callbacks from moving it backwards.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, UTCDateTime

STATUS_RANK = {
    "received": 0, "processed": 0,
    "pending": 0, "submitting": 1, "accepted": 2, "scheduled": 2, "queued": 3, "sending": 4,
    "sent": 5, "failed": 6, "undelivered": 6, "canceled": 6, "delivered": 7, "read": 8,
}


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_user_direction_status", "user_id", "direction", "status"),
        Index("ix_messages_conversation_created", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(10))  # inbound | outbound
    role: Mapped[str] = mapped_column(String(20))  # user | assistant | agent | system
    body: Mapped[str] = mapped_column(Text, default="", server_default="")
    message_type: Mapped[str] = mapped_column(String(20), default="text", server_default="text")
    status: Mapped[str] = mapped_column(String(20))
    status_rank: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    twilio_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), index=True)
    part_index: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    part_count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    route: Mapped[str | None] = mapped_column(String(20))  # llm | fallback | intent | faq | command ...
    route_key: Mapped[str | None] = mapped_column(String(100))  # the intent or FAQ key that answered
    confidence: Mapped[float | None] = mapped_column(Float)
    tool_used: Mapped[str | None] = mapped_column(String(100))  # LLM tools called for this turn, comma-separated
    action_taken: Mapped[str | None] = mapped_column(String(100))  # what the turn changed, e.g. registration_created
    language: Mapped[str | None] = mapped_column(String(8))
    model: Mapped[str | None] = mapped_column(String(100))
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    meta: Mapped[dict | None] = mapped_column("metadata", JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now(), onupdate=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MessageAttachment(Base):
    __tablename__ = "message_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # media | location
    url: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(Text)  # Twilio sets no bound (parameters included)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class MessageStatusEvent(Base):
    """Every status callback as received: an audit trail, and the status of a SID not stored yet."""

    __tablename__ = "message_status_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    twilio_sid: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict | None] = mapped_column(JSONType)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
