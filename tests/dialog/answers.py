"""The answers a question should get: the events FAQ (tests/data/events_faq.csv) in both languages, the
intents' responses, and the clarifying question's numbered options."""
from __future__ import annotations

import csv

from sqlalchemy import select

from bot.core.db import db as database
from bot.i18n import catalog
from bot.nlu.intents import load_intents
from models import FAQ
from tests.dialog.journey import EVENTS_FAQ

FAQ_ROWS = {row["key"]: row for row in csv.DictReader(EVENTS_FAQ.open(encoding="utf-8"))}
INTENTS = {i.name: i for i in load_intents()}
PROFILE = "Test Attendee"  # the seam's and inbound_params' ProfileName


def answer(key: str, language: str) -> str:
    return FAQ_ROWS[key][f"answer_{language}"]


def first_question(key: str, language: str) -> str:
    return FAQ_ROWS[key][f"question_{language}"].split(" | ")[0]


def expected_intent_reply(intent: str, language: str) -> str:
    if intent == "human":
        return catalog.say("human_requested", language)
    if intent == "language":
        return catalog.say("language_set", language)
    if intent == "help":
        return catalog.say("menu", language)
    name = f" {PROFILE}" if intent == "greeting" else ""
    return INTENTS[intent].responses[language].format(name=name)


def clarify_body(language: str, keys: list[str]) -> str:
    options = "\n".join(f"{i}) {first_question(k, language)}" for i, k in enumerate(keys, start=1))
    return catalog.say("clarify", language, options=options)


def faq_row(app, key: str) -> FAQ:
    with app.app_context(), database.session_scope() as s:
        return s.scalars(select(FAQ).where(FAQ.key == key)).one()
