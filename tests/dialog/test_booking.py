"""Booking at the routing seam (tests/dialog/seam.py), in English and Arabic: from the events list, from free
text naming an event, with or without the seats, and every way a booking is refused or declined. Each turn is
judged by its stored reply (route, route_key, action_taken, body), the dialog state left on the conversation and
the rows written (tickets, seats)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.core.db import db as database
from bot.i18n import catalog, localize
from models import Event
from tests.dialog.journey import (
    LANGUAGES,
    WORDS,
    book_by_number,
    code_of,
    confirm_text,
    event,
    line,
    registered_text,
    tickets,
)
from tests.dialog.seam import Chat

# --- from the events list --------------------------------------------------------------------------------------

@LANGUAGES
@pytest.mark.parametrize("seats_word", ["2", "٢"])
def test_register_by_number(events_bot, lang, seats_word):
    book_by_number(Chat(events_bot, "+967711100010"), events_bot, lang, seats_word)


# how many seats, said in words: language, answer to "how many seats?", seats
SEAT_WORDS = [("en", "two", 2), ("en", "3 tickets", 3), ("en", "one", 1), ("ar", "مقعدين", 2), ("ar", "تذكرتين", 2),
              ("ar", "ثلاث تذاكر", 3), ("ar", "٣ مقاعد", 3), ("ar", "واحد", 1)]


@pytest.mark.parametrize("lang, text, seats", SEAT_WORDS, ids=[c[1] for c in SEAT_WORDS])
def test_seats_in_words(events_bot, lang, text, seats):
    turn = Chat(events_bot, "+967711100024").walk(WORDS[lang]["events"], "1", "1", text)
    assert turn.route == ("dialog", "confirm_register", "registration_requested")
    assert turn.body == confirm_text(event(events_bot, "JAZZ"), seats, lang)


@pytest.mark.parametrize("text", ["مقعد واحد", "تذكرة وحدة"])
def test_arabic_noun_then_number_answers_how_many_seats(events_bot, text):
    turn = Chat(events_bot, "+967711100050").walk("الفعاليات", "١", "١", text)
    assert turn.route == ("dialog", "confirm_register", "registration_requested")
    assert turn.body == confirm_text(event(events_bot, "JAZZ"), 1, "ar")


@pytest.mark.parametrize("lang, text", [("en", "book 2 seats for the jazz night"), ("ar", "احجز مقعدين في ليلة الجاز")],
                         ids=["en", "ar"])
def test_booking_sentence_on_the_events_list_books(events_bot, lang, text):
    turn = Chat(events_bot, "+967711100052").walk(WORDS[lang]["events"], text)
    assert turn.route[1:] == ("confirm_register", "registration_requested")
    assert turn.body == confirm_text(event(events_bot, "JAZZ"), 2, lang)


@pytest.mark.parametrize("lang, text", [("en", "book 2 seats"), ("ar", "احجز مقعدين")], ids=["en", "ar"])
def test_booking_sentence_on_event_details_books_that_event(events_bot, lang, text):
    turn = Chat(events_bot, "+967711100053").walk(WORDS[lang]["events"], "1", text)
    assert turn.route == ("dialog", "confirm_register", "registration_requested")
    assert turn.body == confirm_text(event(events_bot, "JAZZ"), 2, lang)


# --- from free text ------------------------------------------------------------------------------------------------

# language, free text, the event it names, the seats it asks for
FREE_TEXT_BOOKINGS = [
    ("en", "book 2 seats for the jazz night", "JAZZ", 2),
    ("ar", "ابي احجز تذكرتين لحفلة العود", "OUD", 2),
    ("en", "i want to book tickets for the oud concert", "OUD", None),
    ("ar", "احجز لي ثلاث مقاعد في ليلة الجاز", "JAZZ", 3),
]


@pytest.mark.parametrize("lang, text, code, seats", FREE_TEXT_BOOKINGS, ids=[c[1] for c in FREE_TEXT_BOOKINGS])
def test_register_from_free_text(events_bot, lang, text, code, seats):
    chat = Chat(events_bot, "+967711100011")
    booked = event(events_bot, code)
    turn = chat.say(text)
    assert (turn.stored.route_key, turn.stored.language) == ("register_event", lang)
    if seats is None:  # the event is named, the seats are not: asked for
        assert turn.body == catalog.say("ask_seats", lang, title=booked.title(lang), max=localize.number(5, lang))
        seats = 1
        turn = chat.say("1")
    assert turn.body == confirm_text(booked, seats, lang)
    assert turn.stored.action_taken == "registration_requested"
    assert turn.awaiting == {**turn.awaiting, "kind": "confirm_register", "event_id": booked.id, "seats": seats,
                             "source": "text"}

    done = chat.say(WORDS[lang]["yes"])
    assert done.route == ("dialog", "registered", "registration_created")
    [ticket] = tickets(events_bot, chat.phone)
    assert (ticket.seats, ticket.source, ticket.event_id) == (seats, "text", booked.id)
    assert done.body == registered_text(booked, seats, ticket.ticket_code, lang)
    assert event(events_bot, code).seats_taken == seats


# language, a booking that names no event, the seats it names
UNNAMED_BOOKINGS = [("en", "book me a seat", None), ("ar", "احجز لي مقعد", None),
                    ("en", "i'd like two tickets please", 2), ("ar", "ابي احجز تذكرتين", 2)]


@pytest.mark.parametrize("lang, text, seats", UNNAMED_BOOKINGS, ids=[c[1] for c in UNNAMED_BOOKINGS])
def test_booking_without_an_event_asks_which(events_bot, lang, text, seats):
    chat = Chat(events_bot, "+967711100029")
    asked = chat.say(text)
    assert asked.stored.route_key == "register_event"
    lines = "\n".join(line(i, event(events_bot, c), lang) for i, c in enumerate(["JAZZ", "OUD"], start=1))
    assert asked.body == catalog.say("which_event", lang, lines=lines)
    assert asked.awaiting == {**asked.awaiting, "kind": "pick_event", "seats": seats}
    picked = chat.say({"en": "2", "ar": "٢"}[lang])
    oud = event(events_bot, "OUD")
    if seats is None:
        assert picked.route == ("dialog", "ask_seats", None)
        picked = chat.say("1")
    assert picked.body == confirm_text(oud, seats or 1, lang)
    assert {"en": "Free", "ar": "مجاناً"}[lang] in picked.body
    done = chat.say(WORDS[lang]["yes"])
    assert done.body == registered_text(oud, seats or 1, tickets(events_bot, chat.phone)[0].ticket_code, lang)
    assert event(events_bot, "OUD").seats_taken == (seats or 1)


@pytest.mark.parametrize("lang, text, code, seats", FREE_TEXT_BOOKINGS[:2], ids=["en", "ar"])
def test_free_text_booking_is_recorded_as_the_intent(events_bot, lang, text, code, seats):
    turn = Chat(events_bot, "+967711100018").say(text)
    assert (turn.stored.route, turn.stored.route_key) == ("intent", "register_event")
    assert turn.stored.confidence is not None and 0 < turn.stored.confidence <= 1


@LANGUAGES
def test_free_text_booking_keeps_its_source_after_fewer_seats(events_bot, lang):
    chat = Chat(events_bot, "+967711100055")
    text = {"en": "book 4 seats for the photography workshop", "ar": "احجز ٤ مقاعد في ورشة التصوير"}[lang]
    refused = chat.say(text)
    assert refused.stored.route_key == "register_event" and refused.awaiting["kind"] == "seats"
    chat.walk("3", WORDS[lang]["yes"])
    assert [(t.seats, t.source) for t in tickets(events_bot, chat.phone)] == [(3, "text")]


# the FAQ's own instruction: "Send REGISTER and the event number"
@LANGUAGES
def test_register_and_a_list_number_books_that_event(events_bot, lang):
    asked = Chat(events_bot, "+967711100060").say({"en": "REGISTER 2", "ar": "تسجيل ٢"}[lang])
    assert (asked.stored.route, asked.stored.route_key) == ("intent", "register_event")
    assert asked.awaiting["kind"] == "seats" and asked.awaiting["event_id"] == event(events_bot, "OUD").id


# --- declined, unclear, refused ------------------------------------------------------------------------------------

@LANGUAGES
def test_saying_no_books_nothing(events_bot, lang):
    chat = Chat(events_bot, "+967711100012")
    turn = chat.walk(WORDS[lang]["events"], "1", "1", "2", WORDS[lang]["no"])
    assert turn.route == ("dialog", "register_declined", "registration_declined")
    assert turn.body == catalog.say("register_declined", lang)
    assert turn.awaiting is None
    assert tickets(events_bot, chat.phone) == [] and event(events_bot, "JAZZ").seats_taken == 0


@LANGUAGES
def test_unclear_answer_asks_again_and_yes_then_books(events_bot, lang):
    chat = Chat(events_bot, "+967711100013")
    turn = chat.walk(WORDS[lang]["events"], "1", "1", "1", {"en": "hmm", "ar": "ممم"}[lang])
    assert turn.route == ("dialog", "confirm_unclear", None)
    assert turn.body == catalog.say("confirm_unclear", lang)
    assert turn.awaiting["kind"] == "confirm_register"
    assert chat.say(WORDS[lang]["yes"]).route == ("dialog", "registered", "registration_created")
    assert event(events_bot, "JAZZ").seats_taken == 1


@LANGUAGES
def test_duplicate_registration_gets_the_existing_code(events_bot, lang):
    chat = Chat(events_bot, "+967711100014")
    chat.walk(WORDS[lang]["events"], "1", "1", "2", WORDS[lang]["yes"])
    [ticket] = tickets(events_bot, chat.phone)
    jazz = event(events_bot, "JAZZ")
    expected = catalog.say("register_duplicate", lang, title=jazz.title(lang), code=code_of(ticket.ticket_code, lang),
                           seats=localize.seats(2, lang))

    again = chat.walk(WORDS[lang]["events"], "1", "1")
    assert again.route == ("dialog", "register_duplicate", None)
    assert again.body == expected
    by_text = chat.say({"en": "book 1 seat for the jazz night", "ar": "احجز لي مقعد في ليلة الجاز"}[lang])
    assert (by_text.stored.route_key, by_text.body) == ("register_event", expected)
    assert len(tickets(events_bot, chat.phone)) == 1 and event(events_bot, "JAZZ").seats_taken == 2


@LANGUAGES
def test_full_event_is_refused(events_bot, lang):
    chat = Chat(events_bot, "+967711100015")
    turn = chat.walk(WORDS[lang]["events"], WORDS[lang]["more"], "2", "1")
    assert turn.route == ("dialog", "register_full", None)
    assert turn.body == catalog.say("register_full", lang, title=event(events_bot, "FAMILY").title(lang))
    assert turn.awaiting is None
    assert tickets(events_bot, chat.phone) == [] and event(events_bot, "FAMILY").seats_taken == 10


@LANGUAGES
def test_not_enough_seats_then_fewer(events_bot, lang):
    chat = Chat(events_bot, "+967711100016")
    photo = event(events_bot, "PHOTO")
    asked = chat.walk(WORDS[lang]["events"], WORDS[lang]["more"], "1", "1")
    assert asked.body == catalog.say("ask_seats", lang, title=photo.title(lang), max=localize.number(3, lang))
    refused = chat.say("4")
    assert refused.route == ("dialog", "register_not_enough", None)
    assert refused.body == catalog.say("register_not_enough", lang, title=photo.title(lang),
                                       left=localize.seats(3, lang))
    assert refused.awaiting["kind"] == "seats", "the user can answer with fewer"
    chat.walk("3", WORDS[lang]["yes"])
    assert [t.seats for t in tickets(events_bot, chat.phone)] == [3]
    assert event(events_bot, "PHOTO").seats_taken == event(events_bot, "PHOTO").capacity == 3


@LANGUAGES
def test_more_seats_than_a_ticket_allows(events_bot, lang):
    chat = Chat(events_bot, "+967711100017")
    turn = chat.walk(WORDS[lang]["events"], "1", "1", "6")
    assert turn.route == ("dialog", "register_too_many", None)
    assert turn.body == catalog.say("register_too_many", lang, max=localize.number(5, lang))
    assert tickets(events_bot, chat.phone) == []


@LANGUAGES
def test_event_cancelled_before_the_yes_is_not_booked(events_bot, lang):
    chat = Chat(events_bot, "+967711100025")
    chat.walk(WORDS[lang]["events"], "1", "1", "2")
    with events_bot.app_context(), database.session_scope() as s:
        s.scalars(select(Event).where(Event.code == "JAZZ")).one().status = "cancelled"
    turn = chat.say(WORDS[lang]["yes"])
    assert turn.route == ("dialog", "register_closed", None)
    assert turn.body == catalog.say("register_closed", lang, title=event(events_bot, "JAZZ").title(lang))
    assert tickets(events_bot, chat.phone) == [] and event(events_bot, "JAZZ").seats_taken == 0
