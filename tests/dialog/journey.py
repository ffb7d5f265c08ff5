"""What an attendee types, the events they see and the texts they should get back, in English and Arabic.

Expected texts are built from the catalogs (`catalog.say`) and `bot.i18n.localize`; the tests add a few literal
key parts (the Aden time of a UTC start, a price in Arabic-Indic digits) so the localisation itself is pinned too.
"""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core.db import db as database
from bot.i18n import catalog, localize
from bot.i18n.localize import FSI, PDI
from models import Event, Registration, User

EVENTS_FAQ = Path(__file__).resolve().parents[1] / "data" / "events_faq.csv"  # a copy of ../shared/eval
PAGE_SIZE = 2

# What a user types for each step, per language.
WORDS = {
    "en": {"menu": "menu", "events": "events", "more": "more", "yes": "yes", "no": "no", "tickets": "my tickets",
           "cancel": "cancel my ticket"},
    "ar": {"menu": "القائمة", "events": "الفعاليات", "more": "المزيد", "yes": "نعم", "no": "لا", "tickets": "تذاكري",
           "cancel": "الغي تذكرتي"},
}
LANGUAGES = pytest.mark.parametrize("lang", ["en", "ar"])
# The Jazz Night's venue and street as the details show them (the Latin street isolated inside Arabic)
# in Arabic the Arabic venue alone: the Latin address would repeat it in English
JAZZ_VENUE = {"en": "Aden Cultural Centre, Crater, Aden", "ar": "مركز عدن الثقافي"}
# language, free text naming one of the user's two tickets
CANCEL_BY_NAME = [("en", "cancel my oud concert ticket"), ("ar", "الغي تذكرتي في حفلة العود")]


# --- the events ----------------------------------------------------------------------------------------------

def upcoming_events(now) -> list[Event]:
    """Four upcoming published events, soonest first (two per page), plus a draft and a past one never listed.
    The first starts at 16:30 UTC: 7:30 PM in Aden (UTC+3)."""
    day = (now + timedelta(days=10)).replace(hour=16, minute=30, second=0, microsecond=0)
    common = {"status": "published", "timezone": "Asia/Aden"}
    return [
        Event(code="JAZZ", title_en="Jazz Night", title_ar="ليلة الجاز", venue_en="Aden Cultural Centre",
              venue_ar="مركز عدن الثقافي", address="Crater, Aden", latitude=12.7797, longitude=45.0365,
              description_en="Live jazz by the sea.", description_ar="جاز حي على البحر.",
              starts_at=day, price_yer=5000, capacity=40, **common),
        Event(code="OUD", title_en="Oud Concert", title_ar="حفلة العود", venue_en="Tawahi Hall",
              venue_ar="قاعة التواهي", starts_at=day + timedelta(days=1, minutes=30), price_yer=0, capacity=30,
              **common),
        Event(code="PHOTO", title_en="Photography Workshop", title_ar="ورشة التصوير", venue_en="Aden Mall",
              venue_ar="عدن مول", latitude=12.8155, longitude=44.9833,
              starts_at=day + timedelta(days=2, hours=-10, minutes=-30), price_yer=2000, capacity=3, **common),
        Event(code="FAMILY", title_en="Family Day", title_ar="يوم العائلة", venue_en="Gold Mohur Beach",
              venue_ar="شاطئ جولد مور", starts_at=day + timedelta(days=3), price_yer=0, capacity=10, seats_taken=10,
              **common),
        Event(code="DRAFT", title_en="Secret Gig", title_ar="حفلة سرية", starts_at=day, capacity=5, status="draft"),
        Event(code="PAST", title_en="Last Week's Fair", title_ar="معرض الأسبوع الماضي",
              starts_at=now - timedelta(days=7), capacity=5, status="published"),
    ]


# --- rows ------------------------------------------------------------------------------------------------------

def event(app, code: str) -> Event:
    with app.app_context(), database.session_scope() as s:
        return s.scalars(select(Event).where(Event.code == code)).one()


def tickets(app, phone: str) -> list[Registration]:
    with app.app_context(), database.session_scope() as s:
        return list(s.scalars(select(Registration).join(User, User.id == Registration.user_id)
                              .where(User.phone == phone).order_by(Registration.id)))


def seed_ticket(app, phone: str, code: str, seats: int, ticket_code: str = "TCKT42") -> None:
    """A ticket written directly (the user must have written once), with the event's seats moved."""
    with app.app_context(), database.session_scope() as s:
        user = s.scalars(select(User).where(User.phone == phone)).one()
        booked = s.scalars(select(Event).where(Event.code == code)).one()
        booked.seats_taken += seats
        s.add(Registration(event_id=booked.id, user_id=user.id, ticket_code=ticket_code, seats=seats,
                           status="registered", source="menu"))


# --- expected texts, from the catalogs -------------------------------------------------------------------------

def line(n: int, e: Event, lang: str) -> str:
    return catalog.say("events_line", lang, n=localize.number(n, lang), title=e.title(lang),
                       date=localize.short_date(e.starts_at, lang, e.timezone), price=localize.price(e.price_yer, lang))


def events_page(app, lang: str, codes: list[str], first: int, total: int, more: bool) -> str:
    # numbered as the header counts them: the second page of two goes on with 3)
    lines = "\n".join(line(i, event(app, c), lang) for i, c in enumerate(codes, start=first))
    return catalog.say("events_list", lang, first=localize.number(first, lang),
                       last=localize.number(first + len(codes) - 1, lang), total=localize.number(total, lang),
                       lines=lines, more=catalog.say("events_more_hint", lang) if more else "")


def when(e: Event, lang: str) -> str:
    return localize.when(e.starts_at, lang, e.timezone)


def code_of(ticket_code: str, lang: str) -> str:
    return localize.code(ticket_code, lang)


def confirm_text(e: Event, seats: int, lang: str) -> str:
    return catalog.say("confirm_register", lang, title=e.title(lang), when=when(e, lang),
                       seats=localize.seats(seats, lang), total=localize.price(e.price_yer * seats, lang))


def registered_text(e: Event, seats: int, ticket_code: str, lang: str) -> str:
    payment = (catalog.say("registered_payment", lang, total=localize.price(e.price_yer * seats, lang))
               if e.price_yer else "")
    return catalog.say("registered", lang, title=e.title(lang), seats=localize.seats(seats, lang), when=when(e, lang),
                       code=code_of(ticket_code, lang), payment=payment)


ISOLATED = re.compile(f"{localize.LRI}[^{localize.PDI}]*{localize.PDI}")


def assert_arabic_digits(body: str) -> None:
    """Outside direction isolates (codes, times, URLs) an Arabic reply has no ASCII digit."""
    assert not re.search("[0-9]", ISOLATED.sub("", body)), body


# --- journeys run both at the seam (tests/dialog/seam.py) and end to end (test_end_to_end.py) --------------------
# `chat` is anything with `say` and `walk` returning a `Said`: the seam's `Chat`, or the webhook user of
# test_end_to_end.py, whose `body` is what the fake Twilio received.

def book_by_number(chat, app, lang: str, seats_word: str) -> None:
    """Events, the first one, book: how many seats, the confirmation, yes; nothing is written before the yes."""
    jazz = event(app, "JAZZ")
    asked = chat.walk(WORDS[lang]["events"], "1", "1")
    assert asked.route == ("dialog", "ask_seats", None)
    assert asked.body == catalog.say("ask_seats", lang, title=jazz.title(lang), max=localize.number(5, lang))
    assert asked.awaiting["kind"] == "seats"

    confirm = chat.say(seats_word)
    assert confirm.route == ("dialog", "confirm_register", "registration_requested")
    assert confirm.body == confirm_text(jazz, 2, lang)
    assert {"en": "2 seats — 10,000 YER", "ar": "مقعدان — ١٠٬٠٠٠ ريال يمني"}[lang] in confirm.body
    assert confirm.awaiting == {**confirm.awaiting, "kind": "confirm_register", "event_id": jazz.id, "seats": 2}
    assert tickets(app, chat.phone) == [] and event(app, "JAZZ").seats_taken == 0, "nothing is written before yes"

    done = chat.say(WORDS[lang]["yes"])
    assert done.route == ("dialog", "registered", "registration_created")
    [ticket] = tickets(app, chat.phone)
    assert (ticket.seats, ticket.status, ticket.source, ticket.event_id) == (2, "registered", "menu", jazz.id)
    assert done.stored.meta["ticket_code"] == ticket.ticket_code
    assert done.body == registered_text(jazz, 2, ticket.ticket_code, lang)
    assert {"en": f"*{ticket.ticket_code}*", "ar": f"*\u2066{ticket.ticket_code}\u2069*"}[lang] in done.body
    assert event(app, "JAZZ").seats_taken == 2
    assert done.awaiting["kind"] == "event", "the pin is one number away"
    if lang == "ar":
        assert_arabic_digits(done.body)


def open_location_pin(chat, app, lang: str):
    """Events, the first one, its location: the reply carries the venue's pin. Returns the pin's turn."""
    turn = chat.walk(WORDS[lang]["events"], "1", "2")
    jazz = event(app, "JAZZ")
    pin = f"geo:12.779700,45.036500|{jazz.venue(lang)}"
    assert turn.route == ("dialog", "location_pin", None)
    assert turn.stored.meta["send"] == {"persistent_action": [pin]}
    street = {"en": "Crater, Aden", "ar": f"{FSI}Crater, Aden{PDI}"}[lang]  # isolated inside Arabic
    assert turn.body.startswith(f"📍 *{jazz.venue(lang)}* — {jazz.title(lang)}\n{street}")
    assert turn.awaiting["kind"] == "event" and turn.awaiting["event_id"] == jazz.id, "still on the event"
    return turn
