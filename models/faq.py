"""FAQ entries (seed 001 `chatbot_faq`): phrasings and answers in both languages, with usage counters."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text, func, true
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, UTCDateTime


class FAQ(Base):
    __tablename__ = "chatbot_faq"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    category: Mapped[str | None] = mapped_column(String(50), index=True)
    questions_en: Mapped[list] = mapped_column(JSONType, default=list)
    questions_ar: Mapped[list] = mapped_column(JSONType, default=list)
    answer_en: Mapped[str | None] = mapped_column(Text)
    answer_ar: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[list] = mapped_column(JSONType, default=list)
    view_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    helpful_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    not_helpful_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now(), onupdate=func.now())
