"""Users: attendees and organizers, known by their WhatsApp number (seed 000 `users`)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, false, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # E.164 (+967712345678), or the business-scoped id of a sender WhatsApp gives no number (replies go there)
    phone: Mapped[str] = mapped_column(String(255), unique=True)
    wa_id: Mapped[str | None] = mapped_column(String(255))  # a phone number, or a business-scoped user id
    display_name: Mapped[str | None] = mapped_column(String(255))  # WhatsApp ProfileName, any script
    name_en: Mapped[str | None] = mapped_column(String(255))
    name_ar: Mapped[str | None] = mapped_column(String(255))
    preferred_language: Mapped[str | None] = mapped_column(String(8))
    # said "English" / "عربي": the choice holds whatever language the user writes in
    language_explicit: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    role: Mapped[str] = mapped_column(String(20), default="attendee", server_default="attendee")
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # opens WhatsApp's 24 h window
    # set while the user has opted out of messages the bot starts (reminders, broadcasts); answers still go
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now(), onupdate=func.now())
