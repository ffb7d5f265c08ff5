"""Consent to messages the bot starts (reminders, broadcasts): each opt-out and opt-in, kept as history."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class ConsentEvent(Base):
    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(20))  # opt_out | opt_in
    source: Mapped[str] = mapped_column(String(40))  # the word the user sent, or twilio_21610
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
