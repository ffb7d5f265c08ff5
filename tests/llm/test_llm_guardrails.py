"""The LLM route's guard-rails, through the real openai client against the fake server: the interaction log
with tokens and cost, the response cache, the per-user daily token budget, outages, WhatsApp formatting,
👍/👎 feedback, the prompt template from the database and the history token budget."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.core.db import db as database
from bot.i18n import catalog
from bot.llm import prompting
from models import FAQ, AIInteraction, Conversation, Message, PromptTemplate, ResponseCache, User
from models.base import utcnow
from tests.conftest import run_jobs, send

EVENTS_FAQ = Path(__file__).resolve().parents[1] / "data" / "events_faq.csv"  # a copy of ../shared/eval
PRICE_IN, PRICE_OUT = 0.15, 0.60  # gpt-4o-mini, USD per 1M tokens
ONE_CALL_USD = (42 * PRICE_IN + 17 * PRICE_OUT) / 1_000_000  # the fake's usage: 42 in, 17 out
CACHEABLE = "what is the best season to visit aden"  # >= 3 words, nothing personal, routed to the LLM
SHIPPED = max(t["version"] for t in prompting.file_templates() if t["name"] == "assistant_system")
SHIPPED_VERSION = f"assistant_system.v{SHIPPED}"  # the newest template file: used while the table is empty
TICKETS_PRICE_EN = ("Prices are listed in Yemeni rials on each event; most community events cost 2,000 to 5,000 YER "
                    "and some are free.")


@dataclass
class Turn:
    inbound: Message
    reply: Message
    body: str


def say(app, twilio, phone: str, text: str) -> Turn:
    response, sid = send(app.test_client(), phone, text)
    assert response.status_code == 200
    run_jobs(app)
    with app.app_context(), database.session_scope() as s:
        inbound = s.scalars(select(Message).where(Message.twilio_sid == sid)).one()
        reply = s.scalars(select(Message).where(Message.reply_to_id == inbound.id)
                          .order_by(Message.part_index)).first()
    assert reply is not None
    [sent] = [m for m in twilio.sent_to(phone) if m["sid"] == reply.twilio_sid]
    return Turn(inbound, reply, sent["body"])


def query(app, statement):
    with app.app_context(), database.session_scope() as s:
        return list(s.scalars(statement))


def execute(app, statement) -> None:
    with app.app_context(), database.session_scope() as s:
        s.execute(statement)


def interactions(app, phone: str | None = None) -> list[AIInteraction]:
    statement = select(AIInteraction).order_by(AIInteraction.id)
    if phone:
        statement = statement.join(User, User.id == AIInteraction.user_id).where(User.phone == phone)
    return query(app, statement)


def conversation(app, phone: str) -> Conversation:
    [row] = query(app, select(Conversation).join(User, User.id == Conversation.user_id).where(User.phone == phone))
    return row


def cache_rows(app) -> list[ResponseCache]:
    return query(app, select(ResponseCache).order_by(ResponseCache.id))


def faq_row(app, key: str) -> FAQ:
    [row] = query(app, select(FAQ).where(FAQ.key == key))
    return row


def import_events(app) -> None:
    result = app.test_cli_runner().invoke(args=["faq", "import", str(EVENTS_FAQ)])
    assert result.exit_code == 0, result.output


# --- the interaction log ---------------------------------------------------------------------------------

def test_each_llm_call_is_logged_with_tokens_cost_and_latency(app, twilio, llm):
    phone = "+967712100001"
    turn = say(app, twilio, phone, "tell me about quantum origami")
    [row] = interactions(app)
    sent = llm.requests[0]["body"]
    assert row.route == "llm"
    assert row.prompt == sent["messages"], "the prompt is stored exactly as sent"
    assert row.prompt[0]["role"] == "system" and row.prompt[-1]["content"] == "tell me about quantum origami"
    assert row.prompt_version == SHIPPED_VERSION
    assert row.response == "FAKE-LLM: tell me about quantum origami" == turn.body
    assert row.model == "gpt-4o-mini"
    assert (row.input_tokens, row.output_tokens) == (42, 17)
    assert float(row.cost_usd) == pytest.approx(ONE_CALL_USD, abs=0.5e-6), "stored to the micro-dollar"
    assert row.latency_ms is not None and row.latency_ms > 0
    assert (row.finish_reason, row.cache_hit, row.error, row.feedback) == ("stop", False, None, None)
    assert (row.message_id, row.user_id, row.conversation_id) == (turn.inbound.id, turn.inbound.user_id,
                                                                 turn.inbound.conversation_id)
    assert (turn.reply.prompt_tokens, turn.reply.completion_tokens) == (42, 17)
    assert turn.reply.meta["prompt_version"] == SHIPPED_VERSION and turn.reply.meta["cache_hit"] is False

    totals = conversation(app, phone)
    assert totals.total_tokens == 59
    assert totals.total_cost_usd == row.cost_usd

    say(app, twilio, phone, "and what about quantum knots?")
    first, second = interactions(app)
    assert second.input_tokens + second.output_tokens == 59
    totals = conversation(app, phone)
    assert totals.total_tokens == 118
    assert totals.total_cost_usd == first.cost_usd + second.cost_usd


def test_cost_uses_the_price_table_of_the_model(make_app, twilio, llm):
    app = make_app(llm_prices={"gpt-4o-mini": (1000.0, 2000.0)})  # large prices: no rounding in the way
    say(app, twilio, "+967712100002", "tell me about quantum origami")
    [row] = interactions(app)
    assert float(row.cost_usd) == pytest.approx((42 * 1000.0 + 17 * 2000.0) / 1_000_000)


# --- the response cache ----------------------------------------------------------------------------------

def test_same_question_from_another_user_is_answered_from_the_cache(app, twilio, llm):
    first = say(app, twilio, "+967712100010", CACHEABLE)
    assert len(llm.requests) == 1
    second = say(app, twilio, "+967712100011", CACHEABLE)
    assert len(llm.requests) == 1, "a cache hit asks the LLM nothing"
    assert second.body == first.body == f"FAKE-LLM: {CACHEABLE}"
    assert second.reply.route == "llm" and second.reply.meta["cache_hit"] is True

    miss, hit = interactions(app)
    assert (miss.cache_hit, hit.cache_hit) == (False, True)
    assert (hit.input_tokens, hit.output_tokens, float(hit.cost_usd)) == (0, 0, 0.0)
    assert hit.response == miss.response and hit.error is None
    assert conversation(app, "+967712100011").total_tokens == 0

    [cached] = cache_rows(app)
    assert cached.hit_count == 1 and cached.last_hit_at is not None
    assert (cached.normalized_text, cached.language, cached.prompt_version) == (CACHEABLE, "en", SHIPPED_VERSION)
    assert cached.expires_at - cached.created_at == timedelta(hours=6)


def test_cache_matches_the_normalised_text(app, twilio, llm):
    say(app, twilio, "+967712100012", CACHEABLE)
    say(app, twilio, "+967712100013", "What is the best season to visit Aden?")
    assert len(llm.requests) == 1
    assert cache_rows(app)[0].hit_count == 1


PERSONAL = ["did my brother 12345 get the invitation", "did the payment 998877 go through",
            "هل استلمتوا تحويلي رقم 998877"]


@pytest.mark.parametrize("text", PERSONAL)
def test_personal_questions_are_never_cached(app, twilio, llm, text):
    say(app, twilio, "+967712100014", text)
    turn = say(app, twilio, "+967712100015", text)
    assert turn.reply.route == "llm"
    assert len(llm.requests) == 2
    assert cache_rows(app) == []
    assert [i.cache_hit for i in interactions(app)] == [False, False]


def test_arabic_question_about_events_is_cached(app, twilio, llm):
    text = "ما هي انواع الموسيقى في حفلات عدن"
    say(app, twilio, "+967712100022", text)
    turn = say(app, twilio, "+967712100023", text)
    assert turn.reply.route == "llm"
    assert len(llm.requests) == 1 and turn.reply.meta["cache_hit"] is True


def test_short_questions_are_not_cached(app, twilio, llm):
    say(app, twilio, "+967712100016", "aden weather")
    say(app, twilio, "+967712100017", "aden weather")
    assert len(llm.requests) == 2 and cache_rows(app) == []


def test_expired_cache_entry_is_not_used(app, twilio, llm):
    say(app, twilio, "+967712100018", CACHEABLE)
    execute(app, update(ResponseCache).values(expires_at=utcnow() - timedelta(seconds=1)))
    turn = say(app, twilio, "+967712100019", CACHEABLE)
    assert len(llm.requests) == 2
    assert turn.reply.meta["cache_hit"] is False
    assert [i.cache_hit for i in interactions(app)] == [False, False]
    [cached] = cache_rows(app)
    assert cached.hit_count == 0
    assert cached.expires_at > utcnow() + timedelta(hours=5), "the fresh answer renews the entry"


def test_cached_answer_is_per_language(app, twilio, llm):
    say(app, twilio, "+967712100020", "ما هو افضل وقت لزيارة عدن")
    say(app, twilio, "+967712100021", CACHEABLE)
    assert len(llm.requests) == 2
    assert sorted(c.language for c in cache_rows(app)) == ["ar", "en"]


# --- the daily token budget ------------------------------------------------------------------------------

def test_daily_token_budget_stops_the_llm_for_that_user_only(make_app, twilio, llm):
    app = make_app(llm_daily_token_budget=50)
    first = say(app, twilio, "+967712100030", "tell me about quantum origami")
    assert first.reply.route == "llm" and len(llm.requests) == 1
    over = say(app, twilio, "+967712100030", "tell me about quantum physics")
    assert over.reply.route == "fallback"
    assert over.body == catalog.say_both("fallback", "en")
    assert len(llm.requests) == 1, "no LLM request past the budget"
    assert len(interactions(app, "+967712100030")) == 1

    greeting = say(app, twilio, "+967712100030", "hi")
    assert greeting.reply.route == "intent", "intents still answer past the budget"

    other = say(app, twilio, "+967712100031", "explain the history of aden port please")
    assert other.reply.route == "llm" and len(llm.requests) == 2


def test_yesterdays_tokens_do_not_count(make_app, twilio, llm):
    app = make_app(llm_daily_token_budget=50)
    say(app, twilio, "+967712100032", "tell me about quantum origami")
    execute(app, update(AIInteraction).values(created_at=utcnow() - timedelta(days=1, hours=1)))
    turn = say(app, twilio, "+967712100032", "tell me about quantum physics")
    assert turn.reply.route == "llm" and len(llm.requests) == 2


# --- outages ---------------------------------------------------------------------------------------------

OUTAGES = [("500", 500, 0.0, "InternalServerError"), ("429", 429, 0.0, "RateLimitError"),
           ("timeout", None, 1.0, "APITimeoutError")]


@pytest.mark.parametrize("name, status, delay, error", OUTAGES, ids=[o[0] for o in OUTAGES])
@pytest.mark.parametrize("text, language", [(CACHEABLE, "en"), ("ما هو افضل وقت لزيارة عدن", "ar")],
                         ids=["en", "ar"])
def test_llm_outage_gets_the_bilingual_fallback_and_is_logged(make_app, twilio, llm, name, status, delay, error,
                                                               text, language):
    app = make_app(llm_timeout=0.3, llm_max_retries=0)
    llm.fail_status, llm.delay = status, delay
    phone = "+967712100040"
    turn = say(app, twilio, phone, text)
    assert turn.reply.route == "fallback"
    assert turn.body == catalog.say_both("fallback", language)
    for words in (("menu", "agent"), ("القائمة", "موظف")):
        assert all(w in turn.body for w in words), turn.body
    assert len(llm.requests) == 1

    [row] = interactions(app)
    assert row.route == "llm" and row.response is None
    assert row.error and error in row.error
    assert row.prompt == llm.requests[0]["body"]["messages"]
    assert (row.input_tokens, row.output_tokens, float(row.cost_usd), row.cache_hit) == (0, 0, 0.0, False)
    assert cache_rows(app) == [], "a failure is not cached"
    assert conversation(app, phone).total_tokens == 0


# --- WhatsApp formatting ---------------------------------------------------------------------------------

def test_markdown_is_rewritten_as_whatsapp_formatting(app, twilio, llm):
    llm.answer = "## Tickets\n**Price**: 5,000 YER\n* bring ID\n[map](https://maps.example/x)"
    turn = say(app, twilio, "+967712100050", "tell me about quantum origami")
    assert turn.body == "*Tickets*\n*Price*: 5,000 YER\n- bring ID\nmap (https://maps.example/x)"
    assert "##" not in turn.body and "**" not in turn.body and "](" not in turn.body
    assert interactions(app)[0].response == turn.body


def test_bold_heading_loses_its_markdown(app, twilio, llm):
    llm.answer = "### **Tickets**\nBring ID"
    turn = say(app, twilio, "+967712100051", "tell me about quantum origami")
    assert "**" not in turn.body
    assert turn.body == "*Tickets*\nBring ID"


# --- feedback --------------------------------------------------------------------------------------------

@pytest.fixture
def rated(make_app):
    """An app that appends the feedback prompt, with the events FAQ imported."""
    app = make_app(feedback_prompt=True)
    import_events(app)
    return app


def prompt_of(language: str) -> str:
    return catalog.say("feedback_prompt", language)


def test_faq_answer_asks_for_feedback_and_thumbs_up_is_recorded(rated, twilio, llm):
    phone = "+967712100060"
    answer = say(rated, twilio, phone, "How much do tickets cost?")
    assert answer.reply.route == "faq"
    assert answer.body == f"{TICKETS_PRICE_EN}\n\n{prompt_of('en')}"
    [logged] = interactions(rated)
    assert (logged.route, logged.route_key, logged.response, logged.feedback) == ("faq", "tickets_price",
                                                                                 TICKETS_PRICE_EN, None)

    thanks = say(rated, twilio, phone, "👍")
    assert (thanks.reply.route, thanks.body) == ("feedback", catalog.say("feedback_thanks", "en"))
    assert thanks.reply.meta["feedback"] == 1 and thanks.reply.meta["interaction_id"] == logged.id
    [logged] = interactions(rated)
    assert logged.feedback == 1 and logged.feedback_at is not None
    faq = faq_row(rated, "tickets_price")
    assert (faq.helpful_count, faq.not_helpful_count, faq.view_count) == (1, 0, 1)

    again = say(rated, twilio, phone, "👍")
    # the question was answered: a second 👍 is an ordinary reaction (a short answer, never the LLM)
    assert again.reply.route == "reaction"
    assert faq_row(rated, "tickets_price").helpful_count == 1
    assert [i.feedback for i in interactions(rated)] == [1], "rated once; the reaction asked no model"


def test_llm_answer_asks_for_feedback_and_thumbs_down_is_recorded(rated, twilio, llm):
    phone = "+967712100061"
    answer = say(rated, twilio, phone, "tell me about quantum origami")
    assert answer.reply.route == "llm"
    assert answer.body == f"FAKE-LLM: tell me about quantum origami\n\n{prompt_of('en')}"
    sorry = say(rated, twilio, phone, "👎")
    assert (sorry.reply.route, sorry.body) == ("feedback", catalog.say("feedback_sorry", "en"))
    [logged] = interactions(rated)
    assert (logged.route, logged.feedback) == ("llm", -1)
    assert query(rated, select(FAQ).where((FAQ.helpful_count > 0) | (FAQ.not_helpful_count > 0))) == []


# token, the question it rates, the value, the language of the thanks
TOKENS = [
    ("1", "How much do tickets cost?", 1, "en"),
    ("2", "How much do tickets cost?", -1, "en"),
    ("yes", "How much do tickets cost?", 1, "en"),
    ("not helpful", "How much do tickets cost?", -1, "en"),
    ("👍🏽", "How much do tickets cost?", 1, "en"),
    ("نعم", "كم سعر التذكرة؟", 1, "ar"),
    ("لا", "كم سعر التذكرة؟", -1, "ar"),
    ("👎", "كم سعر التذكرة؟", -1, "ar"),
]


@pytest.mark.parametrize("token, question, value, language", TOKENS, ids=[t[0] for t in TOKENS])
def test_feedback_tokens(rated, twilio, llm, token, question, value, language):
    phone = "+967712100062"
    say(rated, twilio, phone, question)
    turn = say(rated, twilio, phone, token)
    assert turn.reply.route == "feedback"
    assert turn.body == catalog.say("feedback_thanks" if value > 0 else "feedback_sorry", language)
    assert [i.feedback for i in interactions(rated)] == [value]
    faq = faq_row(rated, "tickets_price")
    assert (faq.helpful_count, faq.not_helpful_count) == ((1, 0) if value > 0 else (0, 1))
    assert not llm.requests


def test_feedback_token_without_an_answer_awaiting_is_routed_normally(rated, twilio, llm):
    fresh = say(rated, twilio, "+967712100063", "👍")
    assert (fresh.reply.route, fresh.body) == ("reaction", catalog.say("reaction_positive", "en"))
    after_intent = "+967712100064"
    say(rated, twilio, after_intent, "hi")
    turn = say(rated, twilio, after_intent, "👎")
    assert turn.reply.route == "reaction" and llm.requests == []
    assert all(i.feedback is None for i in interactions(rated))
    assert query(rated, select(FAQ).where((FAQ.helpful_count > 0) | (FAQ.not_helpful_count > 0))) == []


def test_another_question_instead_of_feedback_is_answered(rated, twilio, llm):
    phone = "+967712100065"
    say(rated, twilio, phone, "How much do tickets cost?")
    turn = say(rated, twilio, phone, "Is there parking?")
    assert (turn.reply.route, turn.reply.route_key) == ("faq", "parking")
    assert all(i.feedback is None for i in interactions(rated))
    rating = say(rated, twilio, phone, "👍")
    assert rating.reply.route == "feedback"
    assert faq_row(rated, "parking").helpful_count == 1 and faq_row(rated, "tickets_price").helpful_count == 0


def test_feedback_request_expires_after_30_minutes(rated, twilio, llm):
    phone = "+967712100066"
    say(rated, twilio, phone, "How much do tickets cost?")
    [row] = query(rated, select(Conversation))
    awaiting = dict(row.context["awaiting"], at=(utcnow() - timedelta(minutes=31)).isoformat())
    execute(rated, update(Conversation).where(Conversation.id == row.id)
            .values(context={**row.context, "awaiting": awaiting}))
    turn = say(rated, twilio, phone, "👍")
    assert turn.reply.route == "reaction"
    assert faq_row(rated, "tickets_price").helpful_count == 0


def test_history_sent_to_the_llm_leaves_out_the_feedback_prompt(rated, twilio, llm):
    phone = "+967712100067"
    say(rated, twilio, phone, "How much do tickets cost?")
    say(rated, twilio, phone, "tell me about quantum origami")
    messages = llm.requests[-1]["body"]["messages"]
    assert messages[2] == {"role": "assistant", "content": TICKETS_PRICE_EN}


def test_without_the_prompt_a_plain_no_is_not_a_rating(make_app, twilio, llm):
    app = make_app(feedback_prompt=False)
    import_events(app)
    phone = "+967712100068"
    answer = say(app, twilio, phone, "How much do tickets cost?")
    assert answer.body == TICKETS_PRICE_EN, "no question was asked"
    turn = say(app, twilio, phone, "no")
    assert turn.reply.route != "feedback"
    assert faq_row(app, "tickets_price").not_helpful_count == 0


# --- the prompt template from the database ---------------------------------------------------------------

CUSTOM = "CUSTOM {persona} {allowed_topics} {excluded_topics} {language_name} {max_length} {today} {facts}"


def add_template(app, version: int, template: str, active: bool = True) -> None:
    with app.app_context(), database.session_scope() as s:
        s.add(PromptTemplate(name="assistant_system", version=version, template=template, is_active=active,
                             variables=[]))


def test_newest_active_template_from_the_database_is_used(app, twilio, llm):
    add_template(app, 2, CUSTOM)
    add_template(app, 3, "INACTIVE {persona}", active=False)
    prompting.clear_cache()
    turn = say(app, twilio, "+967712100070", "tell me about quantum origami")
    system = llm.requests[0]["body"]["messages"][0]["content"]
    assert system.startswith("CUSTOM You are the WhatsApp assistant of the Greenists events platform")
    assert "English" in system and "700" in system and "{" not in system
    [row] = interactions(app)
    assert row.prompt_version == "assistant_system.v2"
    assert turn.reply.meta["prompt_version"] == "assistant_system.v2"


def test_template_change_is_seen_after_the_cache_is_cleared(app, twilio, llm):
    say(app, twilio, "+967712100071", "tell me about quantum origami")
    add_template(app, SHIPPED + 1, CUSTOM)
    say(app, twilio, "+967712100071", "tell me about quantum physics")
    assert not llm.requests[1]["body"]["messages"][0]["content"].startswith("CUSTOM"), "cached for 30 s"
    prompting.clear_cache()
    say(app, twilio, "+967712100071", "tell me about quantum knots")
    assert llm.requests[2]["body"]["messages"][0]["content"].startswith("CUSTOM")
    assert [i.prompt_version for i in interactions(app)] == [SHIPPED_VERSION] * 2 + [f"assistant_system.v{SHIPPED + 1}"]


def test_answers_cached_under_an_older_template_are_not_reused(app, twilio, llm):
    say(app, twilio, "+967712100072", CACHEABLE)
    add_template(app, SHIPPED + 1, CUSTOM)
    prompting.clear_cache()
    turn = say(app, twilio, "+967712100073", CACHEABLE)
    assert turn.reply.meta["cache_hit"] is False and len(llm.requests) == 2
    assert sorted(c.prompt_version for c in cache_rows(app)) == [SHIPPED_VERSION, f"assistant_system.v{SHIPPED + 1}"]


# --- history and the prompt token budget -----------------------------------------------------------------

def ask_three(app, twilio, llm, phone: str) -> list[dict]:
    for text in ("q1", "q2", "q3"):
        say(app, twilio, phone, text)
    return llm.requests[-1]["body"]["messages"]


def test_history_is_sent_within_the_default_budget(app, twilio, llm):
    messages = ask_three(app, twilio, llm, "+967712100080")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert [m["content"] for m in messages[1:]] == ["q1", "FAKE-LLM: q1", "q2", "FAKE-LLM: q2", "q3"]


def test_tiny_prompt_budget_sends_no_history(make_app, twilio, llm):
    app = make_app(llm_prompt_token_budget=1)
    messages = ask_three(app, twilio, llm, "+967712100081")
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[-1]["content"] == "q3"


# With the system prompt "SYS" (estimated 4 tokens) and the question "q3" (4), the budget left for history is
# budget - 8; from the newest back: "FAKE-LLM: q2" 7, "q2" 4, "FAKE-LLM: q1" 7, "q1" 4.
@pytest.mark.parametrize("budget, history", [
    (8, []),
    (19, ["q2", "FAKE-LLM: q2"]),
    (30, ["q1", "FAKE-LLM: q1", "q2", "FAKE-LLM: q2"]),
])
def test_history_turns_fit_the_prompt_token_budget(make_app, twilio, llm, budget, history):
    app = make_app(llm_prompt_token_budget=budget)
    add_template(app, 2, "SYS")
    prompting.clear_cache()
    messages = ask_three(app, twilio, llm, "+967712100082")
    assert messages[0] == {"role": "system", "content": "SYS"}
    assert prompting.estimate_tokens("SYS") == 4 and prompting.estimate_tokens("FAKE-LLM: q2") == 7
    assert [m["content"] for m in messages[1:-1]] == history
    assert messages[-1] == {"role": "user", "content": "q3"}
