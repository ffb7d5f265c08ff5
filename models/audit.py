"""The audit log: every organizer command, who ran it, with what, and what came of it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    phone: Mapped[str] = mapped_column(String(255))  # kept when the user is erased
    role: Mapped[str] = mapped_column(String(20))
    command: Mapped[str] = mapped_column(String(40))
    arguments: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str] = mapped_column(String(40))  # ok | refused | not_found | invalid | ...
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now(), index=True)
