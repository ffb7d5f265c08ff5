"""Broadcasts (an organizer's message to an event's registrants) and their recipients, and the notifications the
bot sends organizers (seed 002 `notifications`).

A broadcast row is written when the organizer asks (`planned`), and only a confirmation moves it to `sending`.
Each recipient is one row, unique per (broadcast, user): that key, and the message each row points at, are what
keep a recipient to at most one message across retries, killed workers and repeated confirmations.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, UTCDateTime


class Broadcast(Base):
    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    scope: Mapped[str] = mapped_column(String(10))  # event | all
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))  # the author's: the summary is written in it
    # planned | sending | paused | finished | cancelled | expired (never confirmed)
    status: Mapped[str] = mapped_column(String(20), default="planned", index=True)
    plan: Mapped[dict | None] = mapped_column(JSONType)  # the counts shown to the organizer before sending
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # WhatsApp's 63018: resume after
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now(), onupdate=func.now())


class BroadcastRecipient(Base):
    __tablename__ = "broadcast_recipients"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "user_id", name="uq_broadcast_recipients_broadcast_user"),
        Index("ix_broadcast_recipients_broadcast_status", "broadcast_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # queued | claimed (its message is stored; the message row says how far it got) | skipped | cancelled
    status: Mapped[str] = mapped_column(String(20), default="queued")
    reason: Mapped[str | None] = mapped_column(String(40))  # why skipped: opted_out | no_template | banned
    how: Mapped[str | None] = mapped_column(String(10))  # free | template
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), unique=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class Notification(Base):
    """Something an organizer should know (a handoff, flagged content, a finished broadcast), stored for them
    and sent on WhatsApp within the window rules; unique per (recipient, kind, subject)."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("user_id", "kind", "ref_id", name="uq_notifications_user_kind_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # handoff | flagged | broadcast_finished
    ref_id: Mapped[int] = mapped_column(Integer)  # the handoff, flag or broadcast
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | sent | skipped | failed
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
