"""The menu and browsing events at the routing seam (tests/dialog/seam.py), in English and Arabic: the menu by
word and by number, the events list and its pages, event details in Aden time, the location pin. Each turn is
judged by its stored reply (route, route_key, action_taken, body) and the dialog state left on the conversation."""
from __future__ import annotations

import pytest

from bot.i18n import catalog, localize
from tests.dialog.journey import (
    JAZZ_VENUE,
    LANGUAGES,
    PAGE_SIZE,
    WORDS,
    assert_arabic_digits,
    event,
    events_page,
    open_location_pin,
    when,
)
from tests.dialog.seam import Chat

# --- the menu ------------------------------------------------------------------------------------------------

@LANGUAGES
def test_menu_by_word(events_bot, lang):
    turn = Chat(events_bot, "+967711100001").say(WORDS[lang]["menu"])
    assert turn.body == catalog.say("menu", lang)
    assert (turn.stored.route, turn.stored.language, turn.stored.confidence) == ("intent", lang, 1.0)
    assert turn.stored.route_key == "help", "the menu word is the help intent's pattern"
    assert turn.awaiting["kind"] == "menu"


# the menu's option by number (ASCII and Arabic-Indic): the key of the reply and the state it leaves
MENU_NUMBERS = [("1", "events", "events"), ("١", "events", "events"), ("2", "tickets_none", None),
                ("٢", "tickets_none", None), ("3", "faq_topics", "faq_topics"), ("٣", "faq_topics", "faq_topics")]


@LANGUAGES
@pytest.mark.parametrize("number, key, kind", MENU_NUMBERS, ids=[f"{c[0]}-{c[1]}" for c in MENU_NUMBERS])
def test_menu_by_number(events_bot, lang, number, key, kind):
    turn = Chat(events_bot, "+967711100002").walk(WORDS[lang]["menu"], number)
    assert turn.route == ("dialog", key, None)
    assert turn.stored.language == lang, "a bare number is answered in the language of the user's last words"
    assert (turn.awaiting or {}).get("kind") == kind
    if key == "events":
        assert turn.body == events_page(events_bot, lang, ["JAZZ", "OUD"], 1, 4, more=True)
    if key == "tickets_none":
        assert turn.body == catalog.say("tickets_none", lang)


@LANGUAGES
@pytest.mark.parametrize("number", ["5", "٥"])
def test_menu_five_switches_to_the_other_language(events_bot, lang, number):
    chat = Chat(events_bot, "+967711100009")
    other = {"en": "ar", "ar": "en"}[lang]
    turn = chat.walk(WORDS[lang]["menu"], number)
    assert (turn.stored.route, turn.stored.route_key, turn.stored.language) == ("intent", "language", other)
    assert turn.body == catalog.say("language_set", other)
    user = chat.user()
    assert (user.preferred_language, user.language_explicit) == (other, True)


@LANGUAGES
def test_menu_four_asks_for_a_person(events_bot, lang):
    turn = Chat(events_bot, "+967711100019").walk(WORDS[lang]["menu"], "4")
    assert (turn.stored.route, turn.stored.route_key) == ("intent", "human")
    assert turn.body == catalog.say("human_requested", lang)


# --- upcoming events and paging ------------------------------------------------------------------------------

@LANGUAGES
def test_events_list_pages_with_more(events_bot, lang):
    chat = Chat(events_bot, "+967711100003")
    first = chat.say(WORDS[lang]["events"])
    assert first.route == ("intent", "events_list", None)
    assert first.body == events_page(events_bot, lang, ["JAZZ", "OUD"], 1, 4, more=True)
    jazz = event(events_bot, "JAZZ")
    assert localize.short_date(jazz.starts_at, lang, jazz.timezone) in first.body
    assert {"en": "5,000 YER", "ar": "٥٬٠٠٠ ريال يمني"}[lang] in first.body
    assert {"en": "Free", "ar": "مجاناً"}[lang] in first.body
    assert "Secret Gig" not in first.body and "Fair" not in first.body, "drafts and past events are not listed"
    assert first.awaiting["kind"] == "events" and first.awaiting["offset"] == 0
    assert first.awaiting["ids"] == [jazz.id, event(events_bot, "OUD").id]

    second = chat.say(WORDS[lang]["more"])
    assert second.route == ("dialog", "events", None)
    assert second.body == events_page(events_bot, lang, ["PHOTO", "FAMILY"], 3, 4, more=False)
    assert {"en": "2,000 YER", "ar": "٢٬٠٠٠ ريال يمني"}[lang] in second.body
    assert {"en": "(3–4 of 4)", "ar": "(٣–٤ من ٤)"}[lang] in second.body
    assert second.awaiting["offset"] == PAGE_SIZE

    last = chat.say(WORDS[lang]["more"])
    assert last.route == ("dialog", "events_no_more", None)
    assert last.body == catalog.say("events_no_more", lang)
    assert last.awaiting["kind"] == "events", "the last page shown stays answerable by number"


@LANGUAGES
def test_number_on_the_second_page_picks_from_that_page(events_bot, lang):
    turn = Chat(events_bot, "+967711100004").walk(WORDS[lang]["events"], WORDS[lang]["more"], "1")
    assert turn.route == ("dialog", "event_details", None)
    assert turn.awaiting == {**turn.awaiting, "kind": "event", "event_id": event(events_bot, "PHOTO").id,
                             "offset": 2}


@LANGUAGES
def test_number_after_the_last_page_still_picks_from_the_list(events_bot, lang):
    chat = Chat(events_bot, "+967711100051")
    turn = chat.walk(WORDS[lang]["events"], WORDS[lang]["more"], WORDS[lang]["more"], "1")
    assert turn.route == ("dialog", "event_details", None)
    assert turn.awaiting["event_id"] == event(events_bot, "PHOTO").id


# --- event details and the location pin ----------------------------------------------------------------------

@LANGUAGES
def test_event_details_in_aden_time(events_bot, lang):
    turn = Chat(events_bot, "+967711100005").walk(WORDS[lang]["events"], "1")
    jazz = event(events_bot, "JAZZ")
    assert (jazz.starts_at.hour, jazz.starts_at.minute) == (16, 30)
    assert turn.route == ("dialog", "event_details", None)
    assert turn.stored.meta["event_code"] == "JAZZ"
    assert turn.awaiting["kind"] == "event" and turn.awaiting["event_id"] == jazz.id
    url = "https://maps.google.com/?q=12.779700,45.036500"
    expected = catalog.say(
        "event_details", lang, title=jazz.title(lang), when=when(jazz, lang), venue=JAZZ_VENUE[lang],
        price=localize.price(5000, lang),
        seats=catalog.say("seats_left", lang, seats=localize.number(40, lang), capacity=localize.number(40, lang)),
        description="\n\n" + jazz.description(lang),
        map=catalog.say("event_map", lang, url=localize.isolate(url, lang)))
    assert turn.body == expected
    # 16:30 UTC is 7:30 PM in Aden; in Arabic the time is in Arabic-Indic digits and isolated
    assert {"en": "7:30 PM", "ar": "\u2066٧:٣٠\u2069 مساءً"}[lang] in turn.body
    assert {"en": "40 left of 40", "ar": "متبقٍ ٤٠ من ٤٠"}[lang] in turn.body
    if lang == "ar":
        assert f"\u2066{url}\u2069" in turn.body
        assert_arabic_digits(turn.body)


@LANGUAGES
def test_event_details_show_the_last_seats_and_sold_out(events_bot, lang):
    chat = Chat(events_bot, "+967711100006")
    photo = chat.walk(WORDS[lang]["events"], WORDS[lang]["more"], "1")
    assert catalog.say("seats_last", lang, seats=localize.seats(3, lang)) in photo.body
    assert {"en": "9:00 AM", "ar": "\u2066٩:٠٠\u2069 صباحاً"}[lang] in photo.body
    family = chat.walk("3", "2")  # back to the list (page 2), then the full event
    assert family.route == ("dialog", "event_details", None)
    assert catalog.say("sold_out", lang) in family.body


@LANGUAGES
def test_location_pin_is_a_persistent_action(events_bot, lang):
    turn = open_location_pin(Chat(events_bot, "+967711100007"), events_bot, lang)
    # what the sender is given: the stored part's send options become the message's persistent_action
    assert turn.send["persistent_action"] == [f"geo:12.779700,45.036500|{event(events_bot, 'JAZZ').venue(lang)}"]


@LANGUAGES
def test_location_word_and_unknown_location(events_bot, lang):
    chat = Chat(events_bot, "+967711100008")
    turn = chat.walk(WORDS[lang]["events"], "2", {"en": "location", "ar": "الموقع"}[lang])
    assert turn.route == ("dialog", "location_unknown", None)
    assert turn.body == catalog.say("location_unknown", lang, title=event(events_bot, "OUD").title(lang))
    assert not turn.send.get("persistent_action"), "no pin is sent"
