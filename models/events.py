"""Events, their organizers, and registrations (tickets).

Capacity is enforced by the database, not by a read-then-write in Python: `events.seats_taken` is moved in
the same transaction that writes a registration, by an UPDATE whose WHERE clause keeps it within capacity,
and a CHECK constraint refuses anything else. Concurrent claims of the last seats serialise on the event's
row; the losers see no row updated and are told the event is full.

A user holds at most one active (registered or checked-in) registration per event: a partial unique index,
so a duplicate registration is refused atomically and answered kindly.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime

EVENT_STATUSES = ("draft", "published", "cancelled")
REGISTRATION_STATUSES = ("registered", "cancelled", "checked_in")
ACTIVE_REGISTRATION = ("registered", "checked_in")
DEFAULT_TIMEZONE = "Asia/Aden"


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("seats_taken >= 0 AND seats_taken <= capacity", name="seats_within_capacity"),
        CheckConstraint("price_yer >= 0", name="price_not_negative"),
        CheckConstraint("status IN ('draft', 'published', 'cancelled')", name="status_known"),
        CheckConstraint("ends_at IS NULL OR ends_at >= starts_at", name="ends_after_start"),
        Index("ix_events_status_starts", "status", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # the organisers' stable id, e.g. ADEN-JAZZ-25
    title_en: Mapped[str] = mapped_column(String(200))
    title_ar: Mapped[str] = mapped_column(String(200))
    description_en: Mapped[str | None] = mapped_column(Text)
    description_ar: Mapped[str | None] = mapped_column(Text)
    venue_en: Mapped[str | None] = mapped_column(String(200))
    venue_ar: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(Text)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(40), default=DEFAULT_TIMEZONE, server_default=DEFAULT_TIMEZONE)
    price_yer: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 0 = free
    capacity: Mapped[int] = mapped_column(Integer)
    seats_taken: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(20), default="draft", server_default="draft")
    category: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now(), onupdate=func.now())

    @property
    def seats_left(self) -> int:
        return max(self.capacity - self.seats_taken, 0)

    def title(self, language: str) -> str:
        return (self.title_ar if language == "ar" else self.title_en) or self.title_en or self.title_ar

    def venue(self, language: str) -> str | None:
        return (self.venue_ar if language == "ar" else self.venue_en) or self.venue_en or self.venue_ar

    def description(self, language: str) -> str | None:
        return (self.description_ar if language == "ar" else self.description_en) or self.description_en


class EventOrganizer(Base):
    """The organizers who own an event (the organizers issue lets them manage it from WhatsApp)."""

    __tablename__ = "event_organizers"
    __table_args__ = (UniqueConstraint("event_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class Registration(Base):
    """A ticket: one user's seats at one event, known by a short unique code."""

    __tablename__ = "registrations"
    __table_args__ = (
        CheckConstraint("seats > 0", name="seats_positive"),
        CheckConstraint("status IN ('registered', 'cancelled', 'checked_in')", name="status_known"),
        Index("uq_registrations_one_active_per_user_event", "event_id", "user_id", unique=True,
              postgresql_where=text("status IN ('registered', 'checked_in')"),
              sqlite_where=text("status IN ('registered', 'checked_in')")),
        Index("ix_registrations_user_status", "user_id", "status"),
        Index("ix_registrations_event_status", "event_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    ticket_code: Mapped[str] = mapped_column(String(16), unique=True)
    seats: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    status: Mapped[str] = mapped_column(String(20), default="registered", server_default="registered")
    source: Mapped[str | None] = mapped_column(String(20))  # menu | text | llm | import
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now(), onupdate=func.now())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_in_by: Mapped[int | None] = mapped_column(Integer)  # the organizer's user id (kept if they go)
    # The 24-hour reminder: NULL (not yet) → sending (claimed) → sent | skipped | failed. The claim is one
    # UPDATE ... WHERE reminder_status IS NULL, so any number of schedulers send each reminder once.
    reminder_status: Mapped[str | None] = mapped_column(String(20))
    reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminder_note: Mapped[str | None] = mapped_column(Text)
