"""Routing through the real pipeline with the events FAQ imported: each turn is sent as a signed webhook, answered
by a real RQ worker, and judged by the stored outbound row (route, route_key, confidence, language) and by the
body the fake Twilio received. Intents, FAQ answers in the question's language, out-of-scope questions to the
LLM (with FAQ facts), clarifying questions answered by number, media and locations."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.core.db import db as database
from bot.i18n import catalog
from bot.nlu.intents import load_intents
from models import FAQ, Conversation, Message, User
from models.base import utcnow
from tests.conftest import load_payload, post_signed, run_jobs, send

EVENTS_FAQ = Path(__file__).resolve().parent / "data" / "events_faq.csv"  # a copy of ../shared/eval
FAQ_ROWS = {row["key"]: row for row in csv.DictReader(EVENTS_FAQ.open(encoding="utf-8"))}
INTENTS = {i.name: i for i in load_intents()}
PROFILE = "Test Attendee"  # inbound_params' ProfileName


def answer(key: str, language: str) -> str:
    return FAQ_ROWS[key][f"answer_{language}"]


def first_question(key: str, language: str) -> str:
    return FAQ_ROWS[key][f"question_{language}"].split(" | ")[0]


@pytest.fixture
def bot(make_app, twilio, llm):
    """An app (feedback prompt off, so bodies are exact) with the events FAQ imported through the CLI."""
    app = make_app()
    result = app.test_cli_runner().invoke(args=["faq", "import", str(EVENTS_FAQ)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("28 created"), result.output
    return app


@dataclass
class Turn:
    inbound: Message
    replies: list[Message]
    body: str  # what the fake Twilio received (the first part)

    @property
    def reply(self) -> Message:
        return self.replies[0]


def _turn_for(app, twilio, phone: str, sid: str) -> Turn:
    with app.app_context(), database.session_scope() as s:
        inbound = s.scalars(select(Message).where(Message.twilio_sid == sid)).one()
        replies = list(s.scalars(select(Message).where(Message.reply_to_id == inbound.id)
                                 .order_by(Message.part_index)))
    assert replies, f"no reply to {inbound.body!r}"
    sent = [m for m in twilio.sent_to(phone) if m["sid"] == replies[0].twilio_sid]
    assert len(sent) == 1, "the stored reply was sent exactly once"
    return Turn(inbound, replies, sent[0]["body"])


def say(app, twilio, phone: str, text: str) -> Turn:
    """Sends `text` from `phone`, runs the reply job, returns the stored turn and what was sent."""
    response, sid = send(app.test_client(), phone, text)
    assert response.status_code == 200
    run_jobs(app)
    return _turn_for(app, twilio, phone, sid)


def deliver(app, twilio, payload: dict) -> Turn:
    assert post_signed(app.test_client(), "/webhooks/twilio/messages", payload).status_code == 200
    run_jobs(app)
    return _turn_for(app, twilio, payload["From"].removeprefix("whatsapp:"), payload["MessageSid"])


def load(app, model, *where):
    with app.app_context(), database.session_scope() as s:
        return s.scalars(select(model).where(*where)).one()


def faq_row(app, key: str) -> FAQ:
    return load(app, FAQ, FAQ.key == key)


def user_of(app, phone: str) -> User:
    return load(app, User, User.phone == phone)


def conversation_of(app, phone: str) -> Conversation:
    user = user_of(app, phone)
    return load(app, Conversation, Conversation.user_id == user.id, Conversation.status == "active")


# --- intents ---------------------------------------------------------------------------------------------

# text, intent, language, how it is recognised
INTENT_CASES = [
    ("hi", "greeting", "en", "pattern"),
    ("السلام عليكم", "greeting", "ar", "pattern"),
    ("thanks a lot", "thanks", "en", "pattern"),
    ("شكرا جزيلا", "thanks", "ar", "pattern"),
    ("bye", "goodbye", "en", "pattern"),
    ("مع السلامة", "goodbye", "ar", "pattern"),
    ("menu", "help", "en", "pattern"),
    ("القائمة", "help", "ar", "pattern"),
    ("I want to talk to a person", "human", "en", "example"),
    ("ابغى اكلم موظف", "human", "ar", "example"),
    ("English", "language", "en", "pattern"),
    ("عربي", "language", "ar", "pattern"),
]


def expected_intent_reply(intent: str, language: str) -> str:
    if intent == "human":
        return catalog.say("human_requested", language)
    if intent == "language":
        return catalog.say("language_set", language)
    if intent == "help":
        return catalog.say("menu", language)
    name = f" {PROFILE}" if intent == "greeting" else ""
    return INTENTS[intent].responses[language].format(name=name)


@pytest.mark.parametrize("text, intent, language, how", INTENT_CASES, ids=[c[0] for c in INTENT_CASES])
def test_intent_routing(bot, twilio, llm, text, intent, language, how):
    phone = "+967711000001"
    turn = say(bot, twilio, phone, text)
    assert (turn.reply.route, turn.reply.route_key, turn.reply.language) == ("intent", intent, language)
    assert turn.body == expected_intent_reply(intent, language)
    if how == "pattern":
        assert turn.reply.confidence == 1.0
    else:
        assert 0.5 <= turn.reply.confidence <= 1.0
    assert (turn.inbound.route, turn.inbound.route_key, turn.inbound.language) == ("intent", intent, language)
    assert not llm.requests, "an intent needs no LLM call"


@pytest.mark.parametrize("text", ["I want to talk to a person", "ابغى اكلم موظف"])
def test_human_request_is_recorded_on_the_conversation(bot, twilio, text):
    phone = "+967711000002"
    before = utcnow()
    say(bot, twilio, phone, text)
    context = conversation_of(bot, phone).context
    assert "handoff_requested_at" in context
    assert datetime.fromisoformat(context["handoff_requested_at"]) >= before
    assert context["awaiting"] is None


# chosen language, the switch word, then a question in the other language and its FAQ key
SWITCH_CASES = [
    ("en", "English", "كم سعر التذكرة؟", "tickets_price"),
    ("ar", "عربي", "Is there parking?", "parking"),
]


@pytest.mark.parametrize("language, word, question, key", SWITCH_CASES, ids=["to-english", "to-arabic"])
def test_language_switch_sticks_for_the_next_message(bot, twilio, language, word, question, key):
    phone = "+967711000003"
    switched = say(bot, twilio, phone, word)
    assert switched.body == catalog.say("language_set", language)
    user = user_of(bot, phone)
    assert (user.preferred_language, user.language_explicit) == (language, True)

    turn = say(bot, twilio, phone, question)
    assert (turn.reply.route, turn.reply.route_key, turn.reply.language) == ("faq", key, language)
    assert turn.body == answer(key, language), "the chosen language holds whatever the user writes"
    user = user_of(bot, phone)
    assert (user.preferred_language, user.language_explicit) == (language, True)


def test_switching_back_to_the_other_language(bot, twilio):
    phone = "+967711000004"
    say(bot, twilio, phone, "English")
    say(bot, twilio, phone, "عربي")
    turn = say(bot, twilio, phone, "How much do tickets cost?")
    assert (turn.reply.language, turn.body) == ("ar", answer("tickets_price", "ar"))


# a request by example, naming the language: the language it must set
LANGUAGE_REQUESTS = [
    ("switch to arabic", "ar"),
    ("reply to me in english", "en"),
    ("كلمني انجليزي", "en"),
    ("رد علي بالعربي", "ar"),
    ("غير اللغة للانجليزي", "en"),
    ("غير اللغة للعربي", "ar"),
]


@pytest.mark.parametrize("text, language", LANGUAGE_REQUESTS)
def test_language_request_by_example_sets_the_named_language(bot, twilio, text, language):
    phone = "+967711000005"
    turn = say(bot, twilio, phone, text)
    assert (turn.reply.route, turn.reply.route_key) == ("intent", "language")
    assert turn.body == catalog.say("language_set", language)
    user = user_of(bot, phone)
    assert (user.preferred_language, user.language_explicit) == (language, True)


# --- FAQ answers -----------------------------------------------------------------------------------------

# text, FAQ key, language of the answer, kind of text
FAQ_CASES = [
    ("How much do tickets cost?", "tickets_price", "en", "english"),
    ("Is there parking?", "parking", "en", "english"),
    ("where do i park", "parking", "en", "english paraphrase"),
    ("kids allowed?", "children_allowed", "en", "english paraphrase"),
    ("كم سعر التذكرة؟", "tickets_price", "ar", "msa"),
    ("هل يوجد موقف سيارات؟", "parking", "ar", "msa"),
    ("ما هي طرق الدفع؟", "payment_methods", "ar", "msa paraphrase"),
    ("وين أوقف سيارتي؟", "parking", "ar", "gulf/yemeni"),
    ("بكم التذكره", "tickets_price", "ar", "gulf/yemeni"),
    ("ودي اتطوع معكم", "volunteer", "ar", "gulf/yemeni"),
    ("ممكن استرجع المبلغ", "refund_policy", "ar", "gulf/yemeni"),
    ("kam si3r el tadhkara", "tickets_price", "ar", "arabizi"),
    ("kaif adfa3", "payment_methods", "ar", "arabizi"),
]


@pytest.mark.parametrize("text, key, language, kind", FAQ_CASES, ids=[f"{c[3]}:{c[0]}" for c in FAQ_CASES])
def test_faq_is_answered_in_the_language_of_the_question(bot, twilio, llm, text, key, language, kind):
    phone = "+967711000010"
    turn = say(bot, twilio, phone, text)
    reply = turn.reply
    assert (reply.route, reply.route_key, reply.language) == ("faq", key, language)
    assert 0.5 <= reply.confidence <= 1.0
    assert turn.body == answer(key, language)
    assert "faq_gap" not in (reply.meta or {})
    assert (turn.inbound.route, turn.inbound.route_key, turn.inbound.language) == ("faq", key, language)
    assert faq_row(bot, key).view_count == 1
    assert not llm.requests, "an FAQ answer needs no LLM call"


def test_view_count_counts_every_answer(bot, twilio):
    say(bot, twilio, "+967711000011", "Is there parking?")
    say(bot, twilio, "+967711000012", "وين أوقف سيارتي؟")
    say(bot, twilio, "+967711000012", "where do i park")
    assert faq_row(bot, "parking").view_count == 3
    assert faq_row(bot, "tickets_price").view_count == 0


def test_missing_arabic_answer_falls_back_to_english_and_records_the_gap(bot, twilio):
    with bot.app_context(), database.session_scope() as s:
        s.execute(update(FAQ).where(FAQ.key == "parking").values(answer_ar=None))
    bot.extensions["runtime"].knowledge.invalidate()

    turn = say(bot, twilio, "+967711000013", "وين أوقف سيارتي؟")
    assert (turn.reply.route, turn.reply.route_key) == ("faq", "parking")
    assert turn.body == answer("parking", "en")
    assert turn.reply.meta["faq_gap"] == "ar"
    assert faq_row(bot, "parking").view_count == 1

    english = say(bot, twilio, "+967711000014", "Is there parking?")
    assert english.body == answer("parking", "en")
    assert "faq_gap" not in (english.reply.meta or {})


# --- out of scope: the LLM, with FAQ facts ---------------------------------------------------------------

OUT_OF_SCOPE = [("tell me a joke", "en"), ("ما هي عاصمة فرنسا", "ar"), ("write me a poem about the sea", "en")]


@pytest.mark.parametrize("text, language", OUT_OF_SCOPE, ids=[c[0] for c in OUT_OF_SCOPE])
def test_out_of_scope_goes_to_the_llm_not_the_faq(bot, twilio, llm, text, language):
    turn = say(bot, twilio, "+967711000020", text)
    assert (turn.reply.route, turn.reply.language) == ("llm", language)
    assert turn.body == f"FAKE-LLM: {text}"
    assert turn.reply.model == "gpt-4o-mini"
    assert len(llm.requests) == 1
    assert llm.requests[0]["body"]["messages"][-1] == {"role": "user", "content": text}
    with bot.app_context(), database.session_scope() as s:
        assert s.scalars(select(FAQ.view_count).where(FAQ.view_count > 0)).first() is None


# question, the FAQ entry whose answer must be among the facts, language of the facts. Near the parking entry
# but not answered by it. ("is parking free for the concert tonight?" used to be a case here; the parking
# answer begins "Free parking is available", and the matcher now answers it from the FAQ: concert and free
# are known words through the concept lexicon.)
FACT_CASES = [
    ("whose car is blocking the parking exit tonight", "parking", "en"),
    ("هل الباركنج محروس بالليل", "parking", "ar"),
]


@pytest.mark.parametrize("text, key, language", FACT_CASES, ids=["en", "ar"])
def test_llm_prompt_carries_the_closest_faq_entries_as_facts(bot, twilio, llm, text, key, language):
    turn = say(bot, twilio, "+967711000021", text)
    assert (turn.reply.route, turn.reply.language) == ("llm", language), "near the FAQ but not answered by it"
    assert turn.body == f"FAKE-LLM: {text}"
    system = llm.requests[0]["body"]["messages"][0]
    assert system["role"] == "system"
    assert answer(key, language) in system["content"]
    assert first_question(key, language) in system["content"]
    assert faq_row(bot, key).view_count == 0


# --- clarifying questions --------------------------------------------------------------------------------

# text, language, the options offered (FAQ keys, best first)
# ("cancel ticket" used to be the English case; it is now answered with cancel_registration at 0.65, which
# is what the user asked for. "discount" is split between the group and the student discount.)
CLARIFY_CASES = [
    ("discount", "en", ["group_booking", "student_discount"]),
    ("خصم", "ar", ["group_booking", "student_discount"]),
]


def clarify_body(language: str, keys: list[str]) -> str:
    options = "\n".join(f"{i}) {first_question(k, language)}" for i, k in enumerate(keys, start=1))
    return catalog.say("clarify", language, options=options)


@pytest.mark.parametrize("text, language, keys", CLARIFY_CASES, ids=["en", "ar"])
def test_clarify_lists_numbered_options(bot, twilio, llm, text, language, keys):
    phone = "+967711000030"
    turn = say(bot, twilio, phone, text)
    reply = turn.reply
    assert (reply.route, reply.route_key, reply.language) == ("clarify", keys[0], language)
    assert 0.25 <= reply.confidence < 0.5
    assert turn.body == clarify_body(language, keys)
    awaiting = conversation_of(bot, phone).context["awaiting"]
    assert awaiting["kind"] == "clarify"
    assert [o["key"] for o in awaiting["options"]] == keys
    assert not llm.requests


@pytest.mark.parametrize("text, language, keys", CLARIFY_CASES, ids=["en", "ar"])
@pytest.mark.parametrize("number, index", [("1", 0), ("١", 0), ("2", 1), ("٢", 1)],
                         ids=["1", "arabic-indic-1", "2", "arabic-indic-2"])
def test_clarify_answered_with_a_number(bot, twilio, llm, text, language, keys, number, index):
    phone = "+967711000031"
    say(bot, twilio, phone, text)
    turn = say(bot, twilio, phone, number)
    chosen = keys[index]
    assert (turn.reply.route, turn.reply.route_key, turn.reply.confidence) == ("faq", chosen, 1.0)
    assert turn.reply.language == language, "a bare number follows the language of the question"
    assert turn.body == answer(chosen, language)
    assert faq_row(bot, chosen).view_count == 1
    assert conversation_of(bot, phone).context["awaiting"]["kind"] == "feedback"
    assert not llm.requests


# after the clarifying question, text that is not an option number: route, key, body
UNRELATED = [
    ("Is there parking?", "faq", "parking", answer("parking", "en")),
    ("hi", "intent", "greeting", expected_intent_reply("greeting", "en")),
    ("tell me a joke", "llm", None, "FAKE-LLM: tell me a joke"),
    ("7", "llm", None, "FAKE-LLM: 7"),  # a number that is not an option
]


@pytest.mark.parametrize("text, route, key, body", UNRELATED, ids=[c[0] for c in UNRELATED])
def test_unrelated_text_after_clarify_is_routed_normally(bot, twilio, llm, text, route, key, body):
    phone = "+967711000032"
    say(bot, twilio, phone, "discount")
    turn = say(bot, twilio, phone, text)
    assert turn.reply.route == route
    if key is not None:
        assert turn.reply.route_key == key
    assert turn.body == body
    for option in ("group_booking", "student_discount"):
        assert faq_row(bot, option).view_count == 0


def test_clarify_expires_after_30_minutes(bot, twilio, llm):
    phone = "+967711000033"
    say(bot, twilio, phone, "discount")
    with bot.app_context(), database.session_scope() as s:
        conversation = s.scalars(select(Conversation)).one()
        awaiting = dict(conversation.context["awaiting"], at=(utcnow() - timedelta(minutes=31)).isoformat())
        conversation.context = {**conversation.context, "awaiting": awaiting}
    turn = say(bot, twilio, phone, "1")
    assert turn.reply.route == "llm" and turn.body == "FAKE-LLM: 1"
    assert faq_row(bot, "group_booking").view_count == 0


# --- media, location, and what every reply records -------------------------------------------------------

def test_image_still_routes_to_media(bot, twilio, llm):
    turn = deliver(bot, twilio, load_payload("inbound_image.json"))
    assert turn.reply.route == "media"
    assert turn.body == catalog.say_both("media_received", "en", kind=catalog.MEDIA_KINDS["image"])
    assert not llm.requests


def test_location_still_routes_to_location(bot, twilio, llm):
    turn = deliver(bot, twilio, load_payload("inbound_location.json"))
    assert turn.reply.route == "location"
    assert turn.body == catalog.say_both("location_received", "en", label=" (Aden Cultural Centre)")
    assert not llm.requests


def test_every_reply_records_its_route_and_faq_replies_their_key_and_confidence(bot, twilio):
    phone = "+967711000040"
    for text in ("hi", "Is there parking?", "discount", "1", "tell me a joke", "وين أوقف سيارتي؟",
                 "عربي", "شكرا جزيلا"):
        say(bot, twilio, phone, text)
    deliver(bot, twilio, load_payload("inbound_image.json"))
    with bot.app_context(), database.session_scope() as s:
        outbound = list(s.scalars(select(Message).where(Message.direction == "outbound")))
        inbound = list(s.scalars(select(Message).where(Message.direction == "inbound")))
    assert len(outbound) == len(inbound) == 9
    routes = sorted(m.route for m in outbound)
    assert routes == sorted(["intent", "faq", "clarify", "faq", "llm", "faq", "intent", "intent", "media"])
    assert all(m.language in ("en", "ar") for m in outbound)
    for m in outbound:
        if m.route == "faq":
            assert m.route_key in FAQ_ROWS and m.confidence is not None and 0 < m.confidence <= 1
        if m.route in ("intent", "clarify"):
            assert m.route_key is not None and m.confidence is not None
    assert {m.route for m in inbound} == {m.route for m in outbound}, "the inbound turn records what answered it"
