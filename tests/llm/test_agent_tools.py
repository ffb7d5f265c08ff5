"""The LLM as an agent with tools, through the real pipeline: signed webhook → RQ job → router → the real
openai client against the scripted fake → fake Twilio.

The matcher's thresholds are set out of reach (`match_high=match_low=2`), so every free-form request that no
intent pattern catches goes to the LLM, as a request the matcher cannot place does in production. Requests
here name no single event: a booking or cancelling request that does is the journeys' (NamedEventHandler),
tested in their own suite.
"""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.core.db import db as database
from bot.events import views as event_views
from bot.i18n import catalog, localize
from models import Conversation, Event, Message, Registration, User
from models.base import utcnow
from tests.llm.test_llm_guardrails import (
    ONE_CALL_USD,
    SHIPPED_VERSION,
    cache_rows,
    conversation,
    interactions,
    query,
    say,
)

TOOLS = {"list_events", "event_details", "register", "my_tickets", "cancel_ticket"}
JAZZ, WORKSHOP = "ADEN-JAZZ", "CODE-WORKSHOP"


@pytest.fixture
def agent(make_app):
    """An app whose free text reaches the LLM, with two upcoming events, a draft and a past one."""
    app = make_app(match_high=2.0, match_low=2.0)
    add_event(app, JAZZ, "Jazz Night", "ليلة الجاز", days=3, price_yer=5000, capacity=40, seats_taken=10,
              category="concert", venue_en="Gold Mohur Beach", venue_ar="شاطئ جولد مور", latitude=12.77,
              longitude=44.99)
    add_event(app, WORKSHOP, "Coding Workshop", "ورشة البرمجة", days=5, price_yer=0, capacity=20,
              category="workshop", venue_en="Aden Hub", venue_ar="مركز عدن")
    add_event(app, "SECRET-DRAFT", "Draft Gala", "حفل مسودة", days=4, status="draft")
    add_event(app, "OLD-FAIR", "Old Fair", "معرض قديم", days=-2)
    return app


def add_event(app, code: str, title_en: str, title_ar: str, days: float, **fields) -> int:
    values = {"price_yer": 2000, "capacity": 30, "status": "published", **fields}
    with app.app_context(), database.session_scope() as s:
        event = Event(code=code, title_en=title_en, title_ar=title_ar,
                      starts_at=utcnow().replace(microsecond=0) + timedelta(days=days), **values)
        s.add(event)
        s.flush()
        return event.id


def event_row(app, code: str) -> Event:
    [row] = query(app, select(Event).where(Event.code == code))
    return row


def registrations(app) -> list[Registration]:
    return query(app, select(Registration).order_by(Registration.id))


def tool_messages(body: dict) -> list[dict]:
    """The tool results a request sent back, parsed."""
    return [json.loads(m["content"]) for m in body["messages"] if m["role"] == "tool"]


def call(name: str, **arguments) -> dict:
    return {"name": name, "arguments": arguments}


def awaiting(app, phone: str) -> dict | None:
    [row] = query(app, select(Conversation).join(User, User.id == Conversation.user_id).where(User.phone == phone))
    return (row.context or {}).get("awaiting")


# --- list_events -----------------------------------------------------------------------------------------

# Questions the events table cannot answer by itself ("what's on this weekend?" is answered without the LLM:
# tests/dialog/test_event_facts.py): the model looks the events up with its tool.
OPEN_QUESTIONS = [("anything good for a night out with friends?", "en"), ("ايش تنصحني احضر مع اصحابي؟", "ar")]


@pytest.mark.parametrize("text, language", OPEN_QUESTIONS, ids=["en", "ar"])
def test_list_events_results_go_back_to_the_model_and_its_answer_is_sent(agent, twilio, llm, text, language):
    llm.script = [{"tool_calls": [call("list_events", from_date="2000-01-01")]},
                  {"content": "**Jazz Night** and the *Coding Workshop* are on."}]
    phone = "+967712200001"
    turn = say(agent, twilio, phone, text)

    assert turn.body == "*Jazz Night* and the *Coding Workshop* are on.", "the model's text, WhatsApp-formatted"
    first, second = llm.bodies
    assert {t["function"]["name"] for t in first["tools"]} == TOOLS
    assert first["tool_choice"] == "auto"
    assert second["messages"][-2]["tool_calls"][0]["function"]["name"] == "list_events"
    assert second["messages"][-1]["tool_call_id"] == second["messages"][-2]["tool_calls"][0]["id"]
    [result] = tool_messages(second)
    assert result["count"] == 2 and [e["code"] for e in result["events"]] == [JAZZ, WORKSHOP], "no draft, no past"
    jazz, workshop = result["events"]
    event = event_row(agent, JAZZ)
    local = event.starts_at.astimezone(localize.zone("Asia/Aden"))
    assert jazz["starts"] == local.isoformat(timespec="minutes") and jazz["starts"].endswith("+03:00")
    assert jazz["when"] == localize.when(event.starts_at, language, "Asia/Aden")
    assert (jazz["title_en"], jazz["title_ar"], jazz["price_yer"], jazz["seats_left"]) == (
        "Jazz Night", "ليلة الجاز", 5000, 30)
    assert jazz["venue"] == ("شاطئ جولد مور" if language == "ar" else "Gold Mohur Beach")
    assert jazz["map"] == "https://maps.google.com/?q=12.770000,44.990000"
    assert workshop["price_yer"] == 0 and "map" not in workshop

    assert (turn.reply.route, turn.reply.tool_used, turn.reply.action_taken) == ("llm", "list_events", None)
    assert (turn.inbound.tool_used, turn.inbound.action_taken) == ("list_events", None)
    assert turn.reply.meta["tool_rounds"] == 2


def test_list_events_by_words_and_by_dates(agent, twilio, llm):
    jazz_day = event_row(agent, JAZZ).starts_at.astimezone(localize.zone("Asia/Aden")).date().isoformat()
    llm.script = [{"tool_calls": [call("list_events", query="workshop"), call("list_events", query="مسرحية"),
                                  call("list_events", from_date=jazz_day, to_date=jazz_day),
                                  call("list_events", from_date="2099-01-01"), call("list_events", limit=1)]},
                  {"content": "ok"}]
    say(agent, twilio, "+967712200005", "anything for coders or music lovers?")
    by_words, other_language, one_day, none, first = tool_messages(llm.bodies[1])
    assert [e["code"] for e in by_words["events"]] == [WORKSHOP] and by_words["count"] == 1
    assert other_language["count"] == 0 and [e["code"] for e in other_language["events"]] == [JAZZ, WORKSHOP], \
        "words that match no name show what is on, for the model to judge"
    assert [e["code"] for e in one_day["events"]] == [JAZZ]
    assert none["count"] == 0 and none["events"] == [] and "never suggest" in none["note"]
    assert first["count"] == 2 and [e["code"] for e in first["events"]] == [JAZZ]


def test_a_turn_is_one_interaction_row_summing_its_rounds(agent, twilio, llm):
    llm.script = [{"tool_calls": [call("list_events")]}, {"tool_calls": [call("event_details", code=JAZZ)]},
                  {"content": "Jazz Night is on the beach."}]
    phone = "+967712200002"
    turn = say(agent, twilio, phone, "what should I wear to the jazz evening")  # the table has no answer
    assert len(llm.requests) == 3
    [row] = interactions(agent)
    assert row.prompt == llm.bodies[-1]["messages"], "the whole transcript, as last sent"
    assert (row.input_tokens, row.output_tokens) == (3 * 42, 3 * 17)
    assert float(row.cost_usd) == pytest.approx(3 * ONE_CALL_USD, abs=1e-6)
    assert (row.route, row.route_key, row.response, row.finish_reason) == (
        "llm", "list_events,event_details", "Jazz Night is on the beach.", "stop")
    assert row.prompt_version == SHIPPED_VERSION
    assert conversation(agent, phone).total_tokens == 3 * 59
    assert (turn.reply.prompt_tokens, turn.reply.completion_tokens) == (126, 51)
    details = tool_messages(llm.bodies[-1])[1]
    assert details["code"] == JAZZ and details["capacity"] == 40 and "your_ticket" not in details


def test_the_system_prompt_lists_the_next_events_and_the_tools(agent, twilio, llm):
    say(agent, twilio, "+967712200003", "anything fun happening?")
    [body] = llm.bodies
    system = body["messages"][0]["content"]
    assert "list_events" in system and "register" in system and "YER" in system and "Aden" in system
    assert f"- {JAZZ} | Jazz Night / ليلة الجاز |" in system and f"- {WORKSHOP} |" in system
    assert "SECRET-DRAFT" not in system and "OLD-FAIR" not in system
    register = next(t["function"] for t in body["tools"] if t["function"]["name"] == "register")
    assert register["parameters"]["required"] == ["code", "seats"]
    assert register["parameters"]["properties"]["seats"]["maximum"] == 5, "settings.max_seats_per_ticket"


def test_a_tiny_prompt_budget_leaves_the_events_out(make_app, twilio, llm):
    app = make_app(match_high=2.0, match_low=2.0, llm_prompt_token_budget=40)
    add_event(app, JAZZ, "Jazz Night", "ليلة الجاز", days=3)
    say(app, twilio, "+967712200004", "anything fun happening?")
    system = llm.bodies[0]["messages"][0]["content"]
    assert JAZZ not in system and "call list_events" in system


# --- register: the confirmation is the journeys' question, the write is the user's "yes" -------------------

# Requests that name no single event (journeys.NamedEventHandler takes those): the model has to find it.
REGISTER = [("book me two seats for the gig my friend mentioned", "yes", "en"),
            ("ابغى تذكرتين للسهرة اللي قال عنها صاحبي", "نعم", "ar")]


@pytest.mark.parametrize("text, yes, language", REGISTER, ids=["en", "ar"])
def test_register_through_the_tool_asks_to_confirm_and_the_yes_writes(make_app, twilio, llm, text, yes, language):
    app = make_app(match_high=2.0, match_low=2.0, feedback_prompt=True)
    add_event(app, JAZZ, "Jazz Night", "ليلة الجاز", days=3, price_yer=5000, capacity=40)
    llm.script = [{"tool_calls": [call("list_events", query="concert")]},
                  {"tool_calls": [call("register", code=JAZZ.lower(), seats=2)]}]
    phone = "+967712200010"
    turn = say(app, twilio, phone, text)

    event = event_row(app, JAZZ)
    expected = catalog.say("confirm_register", language, title=event.title(language),
                           when=localize.when(event.starts_at, language, event.timezone),
                           seats=localize.seats(2, language), total=event_views.total_price(event, 2, language))
    assert turn.body == expected, "the catalog's question, not model prose, and no feedback prompt"
    assert len(llm.requests) == 2, "the model is not asked again after register"
    assert registrations(app) == [] and event.seats_taken == 0, "nothing is written before the user's yes"
    assert (turn.reply.route, turn.reply.tool_used, turn.reply.action_taken) == (
        "llm", "list_events,register", "registration_requested")
    assert (turn.inbound.tool_used, turn.inbound.action_taken) == ("list_events,register", "registration_requested")
    state = awaiting(app, phone)
    assert (state["kind"], state["seats"], state["source"]) == ("confirm_register", 2, "llm")
    [row] = interactions(app)
    assert (row.response, row.route_key, row.finish_reason) == (expected, "list_events,register", "tool_calls")

    confirmed = say(app, twilio, phone, yes)
    [ticket] = registrations(app)
    assert (ticket.seats, ticket.status, ticket.source) == (2, "registered", "llm")
    assert ticket.ticket_code in confirmed.body
    assert confirmed.reply.action_taken == "registration_created"
    assert event_row(app, JAZZ).seats_taken == 2
    assert len(llm.requests) == 2, "the yes goes through the menu's code path, not the LLM"


def test_register_refusal_is_the_journeys_text_and_writes_nothing(agent, twilio, llm):
    agent_event = event_row(agent, JAZZ)
    with agent.app_context(), database.session_scope() as s:
        s.execute(update(Event).where(Event.id == agent_event.id).values(seats_taken=Event.capacity))
    llm.script = [{"tool_calls": [call("register", code=JAZZ, seats=1)]}]
    turn = say(agent, twilio, "+967712200011", "put me down for the jazz evening")
    assert turn.body == catalog.say("register_full", "en", title="Jazz Night")
    assert (turn.reply.tool_used, turn.reply.action_taken) == ("register", None)
    assert registrations(agent) == []


def test_bad_arguments_come_back_as_errors_the_model_recovers_from(agent, twilio, llm):
    bad = [call("register", code="NO-SUCH-EVENT", seats=2), call("register", code="SECRET-DRAFT", seats=1),
           call("register", code=JAZZ, seats=0), call("register", code=JAZZ, seats=6),
           call("register", code=JAZZ, seats="two"), call("register", code=JAZZ),
           call("event_details", code="NOPE"), {"name": "register", "arguments": "{not json"},
           call("refund_everything"), call("cancel_ticket", ticket_code="ZZZZZZ"),
           call("list_events", from_date="next saturday")]
    llm.script = [{"tool_calls": bad}, {"content": "How many seats would you like, from 1 to 5?"}]
    phone = "+967712200012"
    turn = say(agent, twilio, phone, "book something fun for me")

    assert turn.body == "How many seats would you like, from 1 to 5?"
    errors = [r["error"] for r in tool_messages(llm.bodies[1])]
    assert errors == ["unknown_event", "unknown_event", "invalid_seats", "invalid_seats", "invalid_seats",
                      "invalid_seats", "unknown_event", "invalid_arguments", "unknown_tool", "unknown_ticket",
                      "invalid_date"]
    assert tool_messages(llm.bodies[1])[2]["max_seats"] == 5
    assert registrations(agent) == []
    assert turn.reply.tool_used == "register,event_details,cancel_ticket,list_events", "made-up names are not"
    assert turn.reply.action_taken is None
    assert (awaiting(agent, phone) or {}).get("kind") != "confirm_register"


# --- my_tickets and cancel_ticket ------------------------------------------------------------------------

def give_ticket(app, phone: str, code: str, ticket_code: str, seats: int = 1) -> None:
    with app.app_context(), database.session_scope() as s:
        user = s.scalars(select(User).where(User.phone == phone)).one()
        event = s.scalars(select(Event).where(Event.code == code)).one()
        s.add(Registration(event_id=event.id, user_id=user.id, ticket_code=ticket_code, seats=seats,
                           status="registered", source="menu"))
        event.seats_taken += seats


@pytest.mark.parametrize("text, yes, language", [("cancel the one I booked for the coders", "yes", "en"),
                                                  ("الغي الحجز اللي سويته قبل", "نعم", "ar")], ids=["en", "ar"])
def test_cancel_ticket_through_the_tool_asks_to_confirm(agent, twilio, llm, text, yes, language):
    phone = "+967712200020"
    say(agent, twilio, phone, "hi")
    give_ticket(agent, phone, WORKSHOP, "WK2345", seats=2)
    give_ticket(agent, phone, JAZZ, "JZ2345")
    llm.requests.clear()
    llm.script = [{"tool_calls": [call("my_tickets")]},
                  {"tool_calls": [call("cancel_ticket", ticket_code="wk2345")]}]
    turn = say(agent, twilio, phone, text)

    tickets = tool_messages(llm.bodies[1])[0]["tickets"]
    assert [(t["ticket_code"], t["event_code"], t["seats"]) for t in tickets] == [("JZ2345", JAZZ, 1),
                                                                                 ("WK2345", WORKSHOP, 2)]
    event = event_row(agent, WORKSHOP)
    expected = catalog.say("confirm_cancel", language, code=localize.code("WK2345", language),
                           title=event.title(language), seats=localize.seats(2, language))
    assert turn.body == expected
    assert (turn.reply.tool_used, turn.reply.action_taken) == ("my_tickets,cancel_ticket", "cancellation_requested")
    assert [r.status for r in registrations(agent)] == ["registered", "registered"], "nothing cancelled yet"

    done = say(agent, twilio, phone, yes)
    assert done.reply.action_taken == "ticket_cancelled"
    assert [r.status for r in registrations(agent)] == ["cancelled", "registered"]
    assert event_row(agent, WORKSHOP).seats_taken == 0


def test_cancel_ticket_by_event_code_and_never_someone_elses(agent, twilio, llm):
    owner, other = "+967712200021", "+967712200022"
    for phone in (owner, other):
        say(agent, twilio, phone, "hi")
    give_ticket(agent, owner, JAZZ, "OWN234")
    llm.requests.clear()
    llm.script = [{"tool_calls": [call("cancel_ticket", ticket_code="OWN234")]},
                  {"content": "You have no such ticket."},
                  {"tool_calls": [call("cancel_ticket", ticket_code=JAZZ)]}]
    stranger = say(agent, twilio, other, "cancel that booking please")
    assert stranger.body == "You have no such ticket."
    assert tool_messages(llm.bodies[1])[0]["error"] == "unknown_ticket"
    mine = say(agent, twilio, owner, "cancel that booking please")
    assert mine.reply.action_taken == "cancellation_requested" and "OWN234" in mine.body
    assert [r.status for r in registrations(agent)] == ["registered"]


# --- the cache, failures, limits -------------------------------------------------------------------------

QUESTION = "which shows would suit a night out"  # cacheable: several words, nothing personal


def test_turns_that_called_tools_are_not_cached(agent, twilio, llm):
    llm.script = [{"tool_calls": [call("list_events")]}, {"content": "Jazz Night."},
                  {"tool_calls": [call("list_events")]}, {"content": "Jazz Night."}]
    say(agent, twilio, "+967712200030", QUESTION)
    second = say(agent, twilio, "+967712200031", QUESTION)
    assert len(llm.requests) == 4, "the second user's turn asked the model again"
    assert cache_rows(agent) == []
    assert second.reply.meta["cache_hit"] is False and second.reply.tool_used == "list_events"


def test_a_cached_answer_is_not_reused_once_the_events_change(agent, twilio, llm):
    say(agent, twilio, "+967712200032", QUESTION)  # answered without tools: cached
    hit = say(agent, twilio, "+967712200033", QUESTION)
    assert hit.reply.meta["cache_hit"] is True and len(llm.requests) == 1
    add_event(agent, "NEW-CONCERT", "New Concert", "حفلة جديدة", days=1)
    fresh = say(agent, twilio, "+967712200034", QUESTION)
    assert fresh.reply.meta["cache_hit"] is False and len(llm.requests) == 2
    assert "NEW-CONCERT" in llm.bodies[-1]["messages"][0]["content"]


@pytest.mark.parametrize("text, language", OPEN_QUESTIONS, ids=["en", "ar"])
def test_llm_failure_mid_loop_gets_the_bilingual_fallback(make_app, twilio, llm, text, language):
    app = make_app(match_high=2.0, match_low=2.0, llm_max_retries=0)
    llm.script = [{"tool_calls": [call("list_events")]}, {"status": 500}]
    phone = "+967712200040"
    turn = say(app, twilio, phone, text)
    assert turn.reply.route == "fallback"
    assert turn.body == catalog.say_both("fallback", language)
    [row] = interactions(app)
    assert row.response is None and "InternalServerError" in row.error
    assert (row.input_tokens, row.output_tokens, row.route_key) == (42, 17, "list_events"), "the paid round counts"
    assert conversation(app, phone).total_tokens == 59


def test_tool_rounds_are_bounded_and_the_last_request_demands_text(make_app, twilio, llm):
    app = make_app(match_high=2.0, match_low=2.0, llm_tool_rounds=2)
    llm.script = [{"tool_calls": [call("list_events")]}, {"tool_calls": [call("my_tickets")]},
                  {"content": "Here is what I found."}]
    turn = say(app, twilio, "+967712200041", "surprise me")
    assert turn.body == "Here is what I found."
    assert [b.get("tool_choice") for b in llm.bodies] == ["auto", "auto", "none"]


def test_a_model_that_keeps_calling_tools_gets_the_fallback(make_app, twilio, llm):
    app = make_app(match_high=2.0, match_low=2.0, llm_tool_rounds=1)
    llm.script = [{"tool_calls": [call("list_events")]}, {"tool_calls": [call("list_events")]}]
    turn = say(app, twilio, "+967712200042", "surprise me")
    assert turn.reply.route == "fallback" and len(llm.requests) == 2
    [row] = interactions(app)
    assert "after the last round" in row.error and row.input_tokens == 84


def test_the_daily_token_budget_stops_the_loop(make_app, twilio, llm):
    app = make_app(match_high=2.0, match_low=2.0, llm_daily_token_budget=100)
    llm.script = [{"tool_calls": [call("list_events")]}, {"tool_calls": [call("list_events")]},
                  {"content": "never asked"}]
    turn = say(app, twilio, "+967712200043", "surprise me")
    assert turn.reply.route == "fallback"
    assert len(llm.requests) == 2, "118 tokens spent: no third round"
    [row] = interactions(app)
    assert "budget" in row.error and row.input_tokens + row.output_tokens == 118


def test_answers_without_tools_still_work_and_record_no_tool(agent, twilio, llm):
    turn = say(agent, twilio, "+967712200044", "tell me about quantum origami")
    assert turn.body == "FAKE-LLM: tell me about quantum origami"
    assert (turn.reply.tool_used, turn.reply.action_taken) == (None, None)
    [inbound] = query(agent, select(Message).where(Message.id == turn.inbound.id))
    assert inbound.tool_used is None
