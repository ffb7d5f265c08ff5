"""The dialog state at the routing seam (tests/dialog/seam.py), in English and Arabic: the menu word leaves any
step, a step expires after DIALOG_IDLE_MINUTES, the state lives in the database (a new app instance carries on),
and Arabic replies keep Arabic-Indic digits along a whole journey."""
from __future__ import annotations

import pytest

from bot.i18n import catalog
from tests.dialog.journey import (
    LANGUAGES,
    PAGE_SIZE,
    WORDS,
    assert_arabic_digits,
    event,
    registered_text,
    seed_ticket,
    tickets,
)
from tests.dialog.seam import Chat

# --- leaving and losing the dialog ---------------------------------------------------------------------------

@LANGUAGES
def test_menu_escapes_a_pending_confirmation(events_bot, lang):
    chat = Chat(events_bot, "+967711100030")
    chat.walk(WORDS[lang]["events"], "1", "1", "2")
    escaped = chat.say(WORDS[lang]["menu"])
    assert escaped.body == catalog.say("menu", lang)
    assert escaped.awaiting["kind"] == "menu"
    turn = chat.say(WORDS[lang]["yes"])
    assert turn.stored.action_taken is None
    assert turn.stored.route_key != "registered"
    assert tickets(events_bot, chat.phone) == [] and event(events_bot, "JAZZ").seats_taken == 0


@LANGUAGES
def test_menu_escapes_a_pending_cancellation(events_bot, lang):
    chat = Chat(events_bot, "+967711100031")
    chat.say(WORDS[lang]["menu"])
    seed_ticket(events_bot, chat.phone, "JAZZ", 2)
    turn = chat.walk(WORDS[lang]["tickets"], "1", "1", WORDS[lang]["menu"], WORDS[lang]["yes"])
    assert turn.stored.action_taken is None
    assert [t.status for t in tickets(events_bot, chat.phone)] == ["registered"]


@LANGUAGES
def test_expired_dialog_does_not_act_on_a_bare_number(events_bot, lang):
    chat = Chat(events_bot, "+967711100032")
    chat.say(WORDS[lang]["events"])
    chat.age_dialog(31)  # DIALOG_IDLE_MINUTES is 30
    turn = chat.say("1")
    assert turn.stored.route != "dialog" and turn.stored.route_key != "event_details"
    assert event(events_bot, "JAZZ").title(lang) not in turn.body
    assert turn.awaiting is None or turn.awaiting["kind"] != "event"


@LANGUAGES
def test_expired_confirmation_does_not_book(events_bot, lang):
    chat = Chat(events_bot, "+967711100033")
    chat.walk(WORDS[lang]["events"], "1", "1", "2")
    chat.age_dialog(31)
    turn = chat.say(WORDS[lang]["yes"])
    assert turn.stored.action_taken is None
    assert tickets(events_bot, chat.phone) == [] and event(events_bot, "JAZZ").seats_taken == 0


# DIALOG_IDLE_MINUTES, how old the confirm step is, whether "yes" still books
IDLE_CASES = [(30, 29, True), (30, 31, False), (5, 4, True), (5, 6, False), (120, 90, True)]


@LANGUAGES
@pytest.mark.parametrize("idle, age, books", IDLE_CASES, ids=[f"idle{c[0]}-age{c[1]}" for c in IDLE_CASES])
def test_dialog_expiry_follows_the_setting(events_bot, make_app, lang, idle, age, books):
    app = make_app(events_page_size=PAGE_SIZE, dialog_idle_minutes=idle)
    chat = Chat(app, "+967711100034")
    chat.walk(WORDS[lang]["events"], "1", "1", "2")
    chat.age_dialog(age)
    turn = chat.say(WORDS[lang]["yes"])
    assert (turn.stored.action_taken == "registration_created") is books
    assert len(tickets(app, chat.phone)) == int(books)


@LANGUAGES
def test_state_survives_a_new_app_instance(events_bot, make_app, lang):
    phone = "+967711100035"
    Chat(events_bot, phone).walk(WORDS[lang]["events"], "1", "1", "2")
    restarted = make_app(events_page_size=PAGE_SIZE)  # a new process: nothing kept in memory
    turn = Chat(restarted, phone).say(WORDS[lang]["yes"])
    assert turn.route == ("dialog", "registered", "registration_created")
    assert event(restarted, "JAZZ").seats_taken == 2
    [ticket] = tickets(restarted, phone)
    assert turn.body == registered_text(event(restarted, "JAZZ"), 2, ticket.ticket_code, lang)


# --- Arabic replies --------------------------------------------------------------------------------------------

def test_arabic_replies_use_arabic_indic_digits_and_isolate_latin_runs(events_bot):
    chat = Chat(events_bot, "+967711100040")
    bodies = [chat.say(text).body for text in ("الفعاليات", "١", "١", "٢", "نعم", "تذاكري", "١", "١")]
    for body in bodies:
        assert_arabic_digits(body)
    [ticket] = tickets(events_bot, chat.phone)
    registered, listed, details, cancel = bodies[4], bodies[5], bodies[6], bodies[7]
    for body in (registered, listed, details, cancel):
        assert f"*\u2066{ticket.ticket_code}\u2069*" in body
    assert "١٠٬٠٠٠ ريال يمني" in registered
