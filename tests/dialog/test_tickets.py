"""My tickets and cancelling at the routing seam (tests/dialog/seam.py), in English and Arabic: the list, a
ticket's details and pin, cancelling from the list or from free text (by event name or ticket code), with a
confirmation. Tickets are written directly (`seed_ticket`) after the user's first message; each turn is judged
by its stored reply, the dialog state and the rows it changed."""
from __future__ import annotations

import pytest

from bot.i18n import catalog, localize
from tests.dialog.journey import (
    CANCEL_BY_NAME,
    JAZZ_VENUE,
    LANGUAGES,
    WORDS,
    code_of,
    event,
    seed_ticket,
    tickets,
    when,
)
from tests.dialog.seam import Chat


def with_tickets(app, phone: str, lang: str, *seeded: tuple) -> Chat:
    """A user who opened the menu once, then holds the tickets `seeded` ((event code, seats[, ticket code]))."""
    chat = Chat(app, phone)
    chat.say(WORDS[lang]["menu"])
    for ticket in seeded:
        seed_ticket(app, phone, *ticket)
    return chat


@LANGUAGES
def test_my_tickets_and_ticket_details(events_bot, lang):
    chat = with_tickets(events_bot, "+967711100020", lang, ("JAZZ", 2))
    jazz = event(events_bot, "JAZZ")
    listed = chat.say(WORDS[lang]["tickets"])
    assert listed.route == ("intent", "my_tickets", None)
    ticket_line = catalog.say("tickets_line", lang, n=localize.number(1, lang), title=jazz.title(lang),
                              date=localize.short_date(jazz.starts_at, lang, jazz.timezone),
                              code=code_of("TCKT42", lang), seats=localize.seats(2, lang))
    assert listed.body == catalog.say("tickets_list", lang, lines=ticket_line)
    assert listed.awaiting["kind"] == "tickets"

    details = chat.say({"en": "1", "ar": "١"}[lang])
    assert details.route == ("dialog", "ticket_details", None)
    assert details.body == catalog.say("ticket_details", lang, title=jazz.title(lang), when=when(jazz, lang),
                                       venue=JAZZ_VENUE[lang], code=code_of("TCKT42", lang),
                                       seats=localize.seats(2, lang), status="")
    pin = chat.say("2")
    assert pin.route == ("dialog", "location_pin", None)
    assert pin.send["persistent_action"] == [f"geo:12.779700,45.036500|{jazz.venue(lang)}"]


@LANGUAGES
@pytest.mark.parametrize("answer", ["yes", "no"])
def test_cancel_from_my_tickets_with_confirmation(events_bot, lang, answer):
    chat = with_tickets(events_bot, "+967711100021", lang, ("JAZZ", 2))
    jazz = event(events_bot, "JAZZ")
    asked = chat.walk(WORDS[lang]["tickets"], "1", "1")
    assert asked.route == ("dialog", "confirm_cancel", "cancellation_requested")
    assert asked.body == catalog.say("confirm_cancel", lang, code=code_of("TCKT42", lang), title=jazz.title(lang),
                                     seats=localize.seats(2, lang))
    assert asked.awaiting["kind"] == "confirm_cancel"
    assert [t.status for t in tickets(events_bot, chat.phone)] == ["registered"], "nothing changes before the answer"

    turn = chat.say(WORDS[lang][answer])
    [ticket] = tickets(events_bot, chat.phone)
    if answer == "yes":
        assert turn.route == ("dialog", "ticket_cancelled", "ticket_cancelled")
        assert turn.body == catalog.say("ticket_cancelled", lang, code=code_of("TCKT42", lang), title=jazz.title(lang))
        assert (ticket.status, ticket.cancelled_at is not None) == ("cancelled", True)
        assert event(events_bot, "JAZZ").seats_taken == 0, "the seats are free again"
    else:
        assert turn.route == ("dialog", "ticket_kept", "cancellation_declined")
        assert turn.body == catalog.say("ticket_kept", lang, code=code_of("TCKT42", lang), title=jazz.title(lang))
        assert ticket.status == "registered"
        assert event(events_bot, "JAZZ").seats_taken == 2
    assert turn.awaiting is None


@LANGUAGES
def test_cancel_from_free_text(events_bot, lang):
    chat = with_tickets(events_bot, "+967711100022", lang, ("JAZZ", 2))
    asked = chat.say(WORDS[lang]["cancel"])
    assert asked.route == ("intent", "cancel_ticket", "cancellation_requested")
    assert asked.awaiting["kind"] == "confirm_cancel"
    done = chat.say(WORDS[lang]["yes"])
    assert done.route == ("dialog", "ticket_cancelled", "ticket_cancelled")
    assert event(events_bot, "JAZZ").seats_taken == 0


@LANGUAGES
def test_cancel_from_free_text_with_two_tickets_asks_which(events_bot, lang):
    chat = with_tickets(events_bot, "+967711100026", lang, ("JAZZ", 2), ("OUD", 1, "OUD777"))
    asked = chat.say(WORDS[lang]["cancel"])
    assert asked.route == ("intent", "cancel_ticket", None)
    assert asked.awaiting == {**asked.awaiting, "kind": "tickets", "purpose": "cancel"}
    assert code_of("TCKT42", lang) in asked.body and code_of("OUD777", lang) in asked.body
    confirm = chat.say("2")
    assert confirm.route == ("dialog", "confirm_cancel", "cancellation_requested")
    assert code_of("OUD777", lang) in confirm.body
    chat.say(WORDS[lang]["yes"])
    assert [t.status for t in tickets(events_bot, chat.phone)] == ["registered", "cancelled"]
    assert (event(events_bot, "JAZZ").seats_taken, event(events_bot, "OUD").seats_taken) == (2, 0)


@pytest.mark.parametrize("lang, text", CANCEL_BY_NAME, ids=["en", "ar"])
def test_cancel_by_event_name_picks_that_ticket(events_bot, lang, text):
    chat = with_tickets(events_bot, "+967711100027", lang, ("JAZZ", 2), ("OUD", 1, "OUD777"))
    asked = chat.say(text)
    assert asked.route == ("intent", "cancel_ticket", "cancellation_requested")
    assert asked.body == catalog.say("confirm_cancel", lang, code=code_of("OUD777", lang),
                                     title=event(events_bot, "OUD").title(lang), seats=localize.seats(1, lang))


@pytest.mark.parametrize("lang, text", CANCEL_BY_NAME, ids=["en", "ar"])
def test_cancel_naming_an_event_without_a_ticket_offers_no_other_ticket(events_bot, lang, text):
    turn = with_tickets(events_bot, "+967711100054", lang, ("JAZZ", 2)).say(text)
    assert turn.stored.action_taken != "cancellation_requested"
    assert "TCKT42" not in turn.body


@LANGUAGES
def test_cancel_word_on_ticket_details(events_bot, lang):
    chat = with_tickets(events_bot, "+967711100028", lang, ("JAZZ", 2))
    turn = chat.walk(WORDS[lang]["tickets"], "1", {"en": "cancel", "ar": "الغاء"}[lang])
    assert turn.route == ("dialog", "confirm_cancel", "cancellation_requested")


# the FAQ's own instruction: "Send CANCEL and your ticket code"
@LANGUAGES
def test_cancel_and_a_ticket_code_asks_to_cancel_that_ticket(events_bot, lang):
    chat = with_tickets(events_bot, "+967711100061", lang, ("JAZZ", 2))
    asked = chat.say({"en": "cancel tckt42", "ar": "الغاء TCKT42"}[lang])
    assert asked.route == ("intent", "cancel_ticket", "cancellation_requested")
    done = chat.say(WORDS[lang]["yes"])
    assert done.route[1:] == ("ticket_cancelled", "ticket_cancelled")
    assert event(events_bot, "JAZZ").seats_taken == 0


@LANGUAGES
def test_cancelled_seats_can_be_booked_again(events_bot, lang):
    chat = with_tickets(events_bot, "+967711100023", lang, ("PHOTO", 3))
    chat.walk(WORDS[lang]["tickets"], "1", "1", WORDS[lang]["yes"])
    turn = chat.walk(WORDS[lang]["events"], WORDS[lang]["more"], "1", "1", "3", WORDS[lang]["yes"])
    assert turn.route == ("dialog", "registered", "registration_created")
    assert [t.status for t in tickets(events_bot, chat.phone)] == ["cancelled", "registered"]
    assert event(events_bot, "PHOTO").seats_taken == 3
