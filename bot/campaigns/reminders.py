"""Reminders before an event: one WhatsApp message per registration, sent at most once.

A sweep (`send_due_reminders`) finds the `registered` tickets of published events that start within
`reminder_hours_before` hours and have not started. Each one is claimed (`reminder_status` NULL → `sending`)
by one conditional UPDATE, committed before anything is sent, so any number of clocks, workers and web
threads sweeping at once send each reminder at most once. A claim is never retried: a crash after it leaves
`sending`, which an operator can inspect (docs/reminders.md).

WhatsApp allows free-form text only within 24 hours of the user's last message. Inside that window the
reminder is the catalog text in the user's language; outside it, the approved template for that language
(REMINDER_TEMPLATE_SID_AR / _EN, either one if only one is configured) with these `content_variables`:

    {"1": attendee name, "2": event title, "3": local date and time, "4": venue, "5": ticket code}

With no template configured, a reminder outside the window is skipped, never sent free-form (error 63016).
The reminder is stored as an outbound message (route `reminder`) and sent by `Dispatcher.deliver`, so the
reply path's retries, permanent-error handling and status callbacks apply to it too.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.core.settings import Settings
from bot.core.sql import as_utc
from bot.delivery.conversations import active_conversation
from bot.delivery.reach import FREE, SKIP, reach
from bot.delivery.sending import Dispatcher
from bot.i18n import catalog, localize
from models import Conversation, Event, Message, Registration, User
from models.base import utcnow

log = logging.getLogger(__name__)



@dataclass
class ReminderSummary:
    """What one sweep did: reminders sent, skipped (no template outside the window) and failed."""

    sent: int = 0
    skipped: int = 0
    failed: int = 0

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Reminder:
    """One reminder to store and send: the text, and the template call when outside the window."""

    language: str
    body: str
    send: dict | None = None  # {"content_sid", "content_variables"}: what outbound_for turns into the REST call


def send_due_reminders(session: Session, settings: Settings, dispatcher: Dispatcher,
                       now: datetime | None = None) -> ReminderSummary:
    """Claims and sends every reminder that is due; safe to run from any number of processes at once.

    Args:
        session: a session of its own (each claim and each outcome is committed).
        settings: REMINDER_HOURS_BEFORE, the templates, the conversations' idle gap.
        dispatcher: sends the stored reminder.
        now: the moment the sweep looks from (default: now).
    Returns:
        How many reminders this sweep sent, skipped and failed (those claimed elsewhere are not counted).
    """
    now = now or utcnow()
    summary = ReminderSummary()
    for registration_id in due_registrations(session, now, timedelta(hours=settings.reminder_hours_before)):
        if claim(session, registration_id, now):
            summary.add(_remind_safely(session, settings, dispatcher, registration_id))
    if summary.sent or summary.skipped or summary.failed:
        log.info("reminder sweep sent=%d skipped=%d failed=%d", summary.sent, summary.skipped, summary.failed)
    return summary


def due_registrations(session: Session, now: datetime, ahead: timedelta) -> list[int]:
    """Ids of unreminded `registered` tickets of active, opted-in users for published events starting within
    `ahead` (an opted-out user's stays unreminded: if they opt back in before the event, it is sent)."""
    return list(session.scalars(
        select(Registration.id)
        .join(Event, Event.id == Registration.event_id)
        .join(User, User.id == Registration.user_id)
        .where(Registration.status == "registered", Registration.reminder_status.is_(None),
               Event.status == "published", Event.starts_at > now, Event.starts_at <= now + ahead,
               User.status == "active", User.opted_out_at.is_(None))
        .order_by(Event.starts_at, Registration.id)))


def claim(session: Session, registration_id: int, now: datetime) -> bool:
    """Takes the reminder for this sweep (committed at once); False when another sweep took it first."""
    claimed = session.execute(update(Registration)
                              .where(Registration.id == registration_id, Registration.reminder_status.is_(None),
                                     Registration.status == "registered")
                              .values(reminder_status="sending", reminder_at=now)
                              .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return claimed == 1


def _remind_safely(session: Session, settings: Settings, dispatcher: Dispatcher, registration_id: int) -> str:
    try:
        return remind(session, settings, dispatcher, registration_id)
    except Exception as exc:  # one bad row must not stop the sweep; its claim keeps it from repeating
        session.rollback()
        log.exception("reminder crashed registration_id=%s", registration_id)
        return _finish(session, registration_id, "failed", f"{type(exc).__name__}: {exc}")


def remind(session: Session, settings: Settings, dispatcher: Dispatcher, registration_id: int) -> str:
    """Composes, stores and sends one claimed reminder.

    Returns:
        The outcome, also stored in `reminder_status`: sent | skipped | failed.
    """
    registration = session.get(Registration, registration_id)
    event = session.get(Event, registration.event_id)
    user = session.get(User, registration.user_id)
    now = utcnow()
    reminder = compose(settings, user, event, registration, now)
    if reminder is None:
        why = ("opted out" if user.opted_out_at is not None
               else "outside the 24-hour window and no reminder template configured")
        log.warning("reminder skipped registration_id=%s user_id=%s: %s", registration_id, user.id, why)
        return _finish(session, registration_id, "skipped", why)
    part = _store(session, settings, user.id, event.code, registration_id, reminder, now)
    if dispatcher.deliver(session, part, user.phone):
        how = f"template {reminder.send['content_sid']}" if reminder.send else "free-form"
        return _finish(session, registration_id, "sent", f"message_id={part.id} {how}")
    code, error = session.execute(select(Message.error_code, Message.error_message)
                                  .where(Message.id == part.id)).one()
    return _finish(session, registration_id, "failed", f"twilio_code={code} message_id={part.id}: {error}")


def compose(settings: Settings, user: User, event: Event, registration: Registration,
            now: datetime) -> Reminder | None:
    """The reminder for this user now: free-form inside the window, the template outside, None if neither."""
    way = reach(user, now, templates(settings))
    if way.how == SKIP:
        return None
    body = reminder_text(event, registration, way.language)
    if way.how == FREE:
        return Reminder(way.language, body)
    variables = template_variables(user, event, registration, way.language)  # in the template's language
    return Reminder(way.language, body, {"content_sid": way.content_sid, "content_variables": variables})


def templates(settings: Settings) -> dict[str, str | None]:
    return {"en": settings.reminder_template_sid_en, "ar": settings.reminder_template_sid_ar}


def reminder_text(event: Event, registration: Registration, language: str) -> str:
    """The free-form reminder (also stored as the body of a template reminder, for the transcript)."""
    return catalog.say("reminder", language, title=event.title(language),
                       when=_when(event, language),
                       venue=_venue(event, language), map=_map_line(event, language),
                       code=localize.code(registration.ticket_code, language),
                       seats=localize.seats(registration.seats, language))


def template_variables(user: User, event: Event, registration: Registration, language: str) -> str:
    """The template's `content_variables` JSON: 1 name, 2 title, 3 local date/time, 4 venue, 5 ticket code.

    WhatsApp refuses template parameters with newlines, tabs or long runs of spaces, so each is one line.
    """
    values = (_name(user, language), event.title(language),
              _when(event, language), _venue(event, language),
              localize.isolate(registration.ticket_code, language))
    return json.dumps({str(i): _one_line(v) for i, v in enumerate(values, start=1)}, ensure_ascii=False)


def _when(event: Event, language: str) -> str:
    return localize.when(as_utc(event.starts_at), language, event.timezone)  # SQLite hands back naive UTC


def _venue(event: Event, language: str) -> str:
    return event.venue(language) or catalog.say("reminder_venue_tba", language)


def _map_line(event: Event, language: str) -> str:
    url = localize.map_link(event.latitude, event.longitude)
    return catalog.say("event_map", language, url=localize.isolate(url, language)) if url else ""


def _name(user: User, language: str) -> str:
    preferred = user.name_ar if language == "ar" else user.name_en
    return (preferred or user.display_name or user.name_en or user.name_ar
            or catalog.say("reminder_name_fallback", language))


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _store(session: Session, settings: Settings, user_id: int, event_code: str, registration_id: int,
           reminder: Reminder, now: datetime) -> Message:
    """The reminder as a pending outbound message in the user's active conversation (opened if none)."""
    conversation_id = active_conversation(session.connection(), user_id, now,
                                          timedelta(minutes=settings.conversation_idle_minutes))
    meta = {"registration_id": registration_id, **({"send": reminder.send} if reminder.send else {})}
    part = Message(conversation_id=conversation_id, user_id=user_id, direction="outbound", role="assistant",
                   body=reminder.body, status="pending", status_rank=0, part_index=0, part_count=1,
                   route="reminder", route_key=event_code, language=reminder.language, meta=meta,
                   created_at=now, updated_at=now)
    session.add(part)
    session.execute(update(Conversation).where(Conversation.id == conversation_id)
                    .values(message_count=Conversation.message_count + 1, last_message_at=now))
    session.commit()
    return part


def _finish(session: Session, registration_id: int, outcome: str, note: str) -> str:
    session.execute(update(Registration).where(Registration.id == registration_id)
                    .values(reminder_status=outcome, reminder_note=note[:1000])
                    .execution_options(synchronize_session=False))
    session.commit()
    log.info("reminder %s registration_id=%s note=%s", outcome, registration_id, note[:200])
    return outcome
