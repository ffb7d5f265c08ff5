"""Handoffs: a conversation owned by a person from the events team until it is closed (or goes idle)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class Handoff(Base):
    __tablename__ = "handoffs"
    __table_args__ = (
        # one open handoff per conversation
        Index("uq_handoffs_one_open", "conversation_id", unique=True,
              postgresql_where=text("status = 'open'"), sqlite_where=text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | closed
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    last_agent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the team's last reply
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_reason: Mapped[str | None] = mapped_column(String(20))  # organizer | attendee | idle
    closed_by: Mapped[int | None] = mapped_column()
