"""Knowledge.decide over the production catalogue (built-in intents + the events FAQ + the background class):
table-driven routing rows in both languages, off-topic questions included. Off-topic questions are never
answered from the FAQ or an intent: they go to the LLM, or to the fallback when there is none."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlu.background import BACKGROUND_KEY, background_texts
from bot.nlu.faq_files import read_faq_file
from bot.nlu.intents import load_intents
from bot.nlu.knowledge import FAQEntry, Knowledge

EVENTS_FAQ = Path(__file__).resolve().parents[1] / "data" / "events_faq.csv"  # a copy of ../shared/eval
ANSWERED = ("faq", "intent")

IN_SCOPE = [  # (text, the route, the intent or FAQ entry that answers it)
    ("how much does a ticket cost", "faq", "tickets_price"),
    ("is there somewhere to park the car", "faq", "parking"),
    ("can i bring my kids along", "faq", "children_allowed"),
    ("I lost my ticket", "faq", "lost_ticket"),
    ("هل يوجد مواقف للسيارات", "faq", "parking"),
    ("كم سعر التذكرة", "faq", "tickets_price"),
    ("هل يوجد واي فاي", "faq", "wifi"),
    # small talk the bot answers itself is not off-topic
    ("how are you doing today", "intent", "how_are_you"),
    ("كيف حالك اليوم", "intent", "how_are_you"),
    ("thanks a lot", "intent", "thanks"),
]

OFF_TOPIC = [
    "what's the weather going to be like tomorrow",
    "how much is the euro in rials today",
    "my phone screen is broken, who can repair it",
    "translate hello into italian",
    "recommend a place for grilled fish",
    "who won the derby yesterday",
    "what do you think about the prime minister",
    "tell me a joke about cats",
    "كيف حالة الطقس في صنعاء بكرة",
    "كم سعر الدولار اليوم",
    "وين اصلح شاشة جوالي",
    "ترجم كلمة شكرا للانجليزي",
    "ابغى مطعم سمك زين",
    "مين فاز بالمباراة امس",
    "ايش رايك في رئيس الوزراء",
    "kam si3r el dollar el yom",
]


def _faqs() -> list[FAQEntry]:
    return [FAQEntry(r.key, r.category, tuple(r.questions_en), tuple(r.questions_ar), r.answer_en, r.answer_ar,
                     tuple(r.keywords)) for r in read_faq_file(EVENTS_FAQ)]


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    return Knowledge(load_intents(), _faqs(), 0.5, 0.25)


@pytest.mark.parametrize("text, route, key", IN_SCOPE, ids=[t for t, _, _ in IN_SCOPE])
def test_in_scope_questions_are_answered(knowledge, text, route, key):
    decision = knowledge.decide(text)
    assert (decision.route, decision.key) == (route, key)


@pytest.mark.parametrize("text", OFF_TOPIC)
@pytest.mark.parametrize("llm_available, route", [(True, "llm"), (False, "fallback")])
def test_off_topic_questions_are_never_answered_from_the_catalogue(knowledge, text, llm_available, route):
    decision = knowledge.decide(text, llm_available=llm_available)
    assert decision.route == route
    assert all(c.key != BACKGROUND_KEY for c in decision.candidates)


def test_the_background_class_is_never_a_candidate_and_its_words_are_not_known(knowledge):
    assert all(c.key != BACKGROUND_KEY for c in knowledge.rank("what's the weather like today", k=40))
    # "humid" and "forecast" occur only in the background's texts: they are not words the catalogue knows.
    assert knowledge.matcher.evidence("humid forecast", "event_cancelled_weather")[1] == 0.0
    assert background_texts() and all(not t.startswith("#") for t in background_texts())


def test_without_the_background_class_off_topic_questions_reach_the_faq():
    # The ablation the background class is measured against (docs/matching.md, "Out of scope").
    plain = Knowledge(load_intents(), _faqs(), 0.5, 0.25, background=False)
    answered = [t for t in OFF_TOPIC if plain.decide(t).route in ANSWERED]
    assert answered
