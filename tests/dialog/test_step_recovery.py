"""Steps that survive mistakes, at the routing seam, in English and Arabic: a number out of range is asked again
and the step kept; "no" leaves the step kindly; a language switch re-renders the step in the new language; a
question in the middle of a step is answered and the step still answers its number afterwards; dialect
greetings and courtesies are understood as such, and bare emoji get a short answer, not the LLM."""
from __future__ import annotations

import pytest

from bot.core.db import db as database
from bot.i18n import catalog, localize
from models.base import utcnow
from tests.dialog.conftest import import_faq
from tests.dialog.journey import LANGUAGES, PAGE_SIZE, WORDS, event, upcoming_events
from tests.dialog.seam import Chat

NINE = {"en": "9", "ar": "٩"}


@LANGUAGES
def test_a_number_out_of_range_asks_again_and_keeps_the_list(events_bot, lang):
    chat = Chat(events_bot, "+967714400001")
    listed = chat.say(WORDS[lang]["events"])
    again = chat.say(NINE[lang])
    assert again.route[:2] == ("dialog", "out_of_range")
    assert again.body == catalog.say("step_out_of_range", lang, first=localize.number(1, lang),
                                     last=localize.number(2, lang))
    assert again.awaiting["kind"] == "events" and again.awaiting["ids"] == listed.awaiting["ids"]
    picked = chat.say("1")
    assert picked.route[1] == "event_details", "the list still answers its numbers"
    assert event(events_bot, "JAZZ").title(lang) in picked.body


@pytest.mark.parametrize("lang, no", [("en", "no"), ("ar", "لا"), ("en", "never mind"), ("ar", "خلاص")])
def test_no_in_the_seats_step_leaves_it_kindly(events_bot, lang, no):
    chat = Chat(events_bot, "+967714400002")
    asked = chat.walk(WORDS[lang]["events"], "1", "1")
    assert asked.awaiting["kind"] == "seats"
    left = chat.say(no)
    assert left.route[:2] == ("dialog", "step_left") and left.body == catalog.say("step_left", lang)
    assert left.awaiting is None


@pytest.mark.parametrize("lang, seats_out_of_range", [("en", "9"), ("ar", "٩")])
def test_too_many_seats_asks_again_with_the_range(events_bot, lang, seats_out_of_range):
    chat = Chat(events_bot, "+967714400003")
    chat.walk(WORDS[lang]["events"], "1", "1")
    again = chat.say(seats_out_of_range)
    assert again.awaiting["kind"] == "seats", "the step is kept"


@pytest.mark.parametrize("first, switch, second", [("en", "عربي", "ar"), ("ar", "English", "en")])
def test_a_language_switch_re_renders_the_step_and_keeps_it(events_bot, first, switch, second):
    chat = Chat(events_bot, "+967714400004")
    listed = chat.say(WORDS[first]["events"])
    switched = chat.say(switch)
    assert switched.stored.language == second
    assert switched.body.startswith(catalog.say("language_set", second))
    assert event(events_bot, "JAZZ").title(second) in switched.body, "the list again, in the new language"
    assert switched.awaiting["kind"] == "events" and switched.awaiting["ids"] == listed.awaiting["ids"]
    picked = chat.say("2")
    assert picked.route[1] == "event_details" and picked.stored.language == second


@pytest.mark.parametrize("lang, question", [("en", "is there parking at the venues?"), ("ar", "هل يوجد موقف سيارات")])
def test_a_question_in_the_middle_of_a_list_is_answered_and_the_list_resumes(events_bot, lang, question):
    chat = Chat(events_bot, "+967714400005")
    chat.say(WORDS[lang]["events"])
    answered = chat.say(question)
    assert answered.route[0] == "faq"
    assert catalog.say("feedback_prompt", lang) not in answered.body, "no rating prompt competing with the step"
    picked = chat.say("2")
    assert picked.route[1] == "event_details", "the list shown before the question still answers"
    assert event(events_bot, "OUD").title(lang) in picked.body


@pytest.mark.parametrize("text, intent", [("هلا والله", "greeting"), ("يا هلا", "greeting"), ("اهلين", "greeting"),
                                          ("مساء الخير", "greeting"), ("صباح النور", "greeting"),
                                          ("كيفك", "how_are_you"), ("how are you?", "how_are_you"),
                                          ("تسلم", "thanks"), ("مشكور", "thanks"), ("ما قصرت", "thanks")])
def test_dialect_greetings_and_courtesies_are_understood(faq_bot, text, intent):
    said = Chat(faq_bot, "+967714400006").say(text)
    assert said.route[:2] == ("intent", intent)


@pytest.mark.parametrize("emoji, kind", [("❤️", "positive"), ("😂😂", "positive"), ("👍", "positive"),
                                         ("👎", "negative"), ("🎉", "other")])
def test_a_bare_emoji_gets_a_short_answer_not_the_llm(faq_bot, llm, emoji, kind):
    said = Chat(faq_bot, "+967714400007").say(emoji)
    assert said.route[:2] == ("reaction", kind)
    assert llm.requests == []


@pytest.mark.parametrize("lang, off_topic", [("en", "what's the weather in Sanaa"), ("ar", "كم سعر الدولار اليوم")])
def test_without_an_llm_an_off_topic_reply_in_a_step_asks_the_step_again_with_no_numbered_topics(make_app, lang,
                                                                                              off_topic):
    app = make_app(events_page_size=PAGE_SIZE, openai_api_key=None)
    import_faq(app)
    with app.app_context(), database.session_scope() as s:
        s.add_all(upcoming_events(utcnow()))
    chat = Chat(app, "+967714400007")
    asked = chat.walk(WORDS[lang]["events"], "1", "1")
    assert asked.awaiting["kind"] == "seats"
    answered = chat.say(off_topic)
    assert answered.route[:2] == ("fallback", "step_again")
    assert answered.body.startswith(catalog.say("fallback_no_llm", lang, options=""))
    assert answered.body.endswith(asked.body), "the seats question again"
    assert catalog.say("fallback_closest", lang, lines="").strip() not in answered.body, "no numbered topics"
    assert answered.awaiting["kind"] == "seats"
    confirm = chat.say(localize.number(2, lang))
    assert confirm.awaiting["kind"] == "confirm_register" and confirm.awaiting["seats"] == 2
