"""Behaviour 6: the reply job asks the LLM with history, records the turn, and never leaves silence."""
import pytest
from sqlalchemy import select

from bot.i18n import catalog
from models import Message
from tests.conftest import run_jobs, send

ARABIC_LETTER = "ع"


def outbound(session, phone_sid=None):
    return list(session.scalars(select(Message).where(Message.direction == "outbound").order_by(Message.id)))


def test_llm_answers_and_turn_is_recorded(app, client, session, twilio, llm):
    send(client, "+967712000100", "tell me about quantum origami")
    run_jobs(app)
    [reply] = twilio.sent_to("+967712000100")
    assert reply["body"] == "FAKE-LLM: tell me about quantum origami"
    assert reply["from"] == "whatsapp:+14155238886"
    request = llm.requests[0]["body"]
    assert request["model"] == "gpt-4o-mini"
    system = request["messages"][0]
    assert system["role"] == "system" and "Aden" in system["content"] and "WhatsApp formatting" in system["content"]
    assert request["messages"][-1] == {"role": "user", "content": "tell me about quantum origami"}
    [stored] = outbound(session)
    usage = (stored.route, stored.model, stored.prompt_tokens, stored.completion_tokens)
    assert usage == ("llm", "gpt-4o-mini", 42, 17)
    assert stored.status == "queued" and stored.twilio_sid == reply["sid"]
    assert stored.latency_ms is not None and stored.reply_to_id is not None
    inbound = session.get(Message, stored.reply_to_id)
    assert inbound.status == "processed"


def test_history_of_the_conversation_is_sent(app, client, llm):
    send(client, "+967712000101", "first question")
    run_jobs(app)
    send(client, "+967712000101", "second question")
    run_jobs(app)
    messages = llm.requests[-1]["body"]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == "first question"
    assert messages[2]["content"] == "FAKE-LLM: first question"
    assert messages[3]["content"] == "second question"


def test_history_is_limited_to_last_turns(make_app, llm):
    app = make_app(llm_history_turns=2)
    client = app.test_client()
    for i in range(4):
        send(client, "+967712000102", f"q{i}")
        run_jobs(app)
    messages = llm.requests[-1]["body"]["messages"]
    assert len(messages) == 1 + 2 + 1
    assert messages[-1]["content"] == "q3"


def test_without_api_key_the_fallback_answers_honestly_in_the_users_language(make_app, session, twilio, llm):
    app = make_app(openai_api_key=None)
    send(app.test_client(), "+967712000103", "tell me about quantum origami")
    run_jobs(app)
    [reply] = twilio.sent_to("+967712000103")
    assert reply["body"].startswith(catalog.MESSAGES["fallback_no_llm"]["en"].split("{")[0])
    assert "menu" in reply["body"] and "*agent*" in reply["body"], "what it can do, and the person option"
    assert not llm.requests
    assert outbound(session)[0].route == "fallback"


def test_arabic_text_gets_the_arabic_fallback(make_app, twilio):
    app = make_app(openai_api_key=None)
    send(app.test_client(), "+967712000104", "مرحبا، من فاز بالمباراة امس؟")
    run_jobs(app)
    body = twilio.sent_to("+967712000104")[0]["body"]
    assert body.startswith(catalog.MESSAGES["fallback_no_llm"]["ar"].split("{")[0]) and "menu" not in body


@pytest.mark.parametrize("status", [500, 503, 429, 400])
def test_llm_errors_fall_back(app, client, session, twilio, llm, status):
    llm.fail_status = status
    send(client, "+967712000105", "what about quantum origami?")
    run_jobs(app)
    [reply] = twilio.sent_to("+967712000105")
    assert "menu" in reply["body"]
    assert outbound(session)[0].route == "fallback"


def test_llm_timeout_falls_back_quickly(make_app, session, twilio, llm):
    app = make_app(llm_timeout=0.3, llm_max_retries=0)
    llm.delay = 1.5
    send(app.test_client(), "+967712000106", "slow model")
    run_jobs(app)
    assert "menu" in twilio.sent_to("+967712000106")[0]["body"]
    assert outbound(session)[0].route == "fallback"


def test_llm_retry_recovers_from_one_error(app, client, twilio, llm):
    llm.fail_status, llm.fail_times = 500, 1
    send(client, "+967712000107", "second time lucky")
    run_jobs(app)
    assert twilio.sent_to("+967712000107")[0]["body"] == "FAKE-LLM: second time lucky"
    assert len(llm.requests) == 2


def test_empty_answer_from_llm_falls_back(app, client, twilio, llm):
    llm.answer = "   "
    send(client, "+967712000108", "say nothing")
    run_jobs(app)
    assert "menu" in twilio.sent_to("+967712000108")[0]["body"]


def test_a_turn_that_fails_while_answered_still_gets_the_fallback(app, client, session, twilio, llm):
    """A bug on one turn (here a corrupt dialog state) must not leave the user in silence, nor block their
    next message."""
    from models import Conversation
    phone = "+967712000190"
    send(client, phone, "hello")
    run_jobs(app)
    conversation = session.scalars(select(Conversation)).one()
    conversation.context = {"awaiting": {"kind": "event", "event_id": 1, "at": "not a timestamp"}}
    session.commit()
    _, sid = send(client, phone, "1")
    run_jobs(app)
    failed = session.scalars(select(Message).where(Message.twilio_sid == sid)).one()
    assert failed.status == "failed" and "ValueError" in failed.error_message
    [apology] = session.scalars(select(Message).where(Message.reply_to_id == failed.id)).all()
    assert apology.route == "fallback" and apology.meta["after_error"] is True
    assert twilio.sent_to(phone)[-1]["body"] == catalog.say_both("fallback", "en")
    send(client, phone, "menu")  # the dialog state was cleared with the apology: the user goes on
    run_jobs(app)
    assert twilio.sent_to(phone)[-1]["body"] == catalog.say("menu", "en")


@pytest.mark.parametrize("body,parts,language", [("tell me about quantum origami", 1, "en"),
                                                  ("LONGANSWER about the venues", 2, "en"),
                                                  ("حدثني عن الأوريغامي الكمومي", 1, "ar")])
def test_the_answer_its_routing_and_the_counters_are_stored_together(app, client, session, twilio, llm, body, parts,
                                                                      language):
    """A one-part answer is one statement on PostgreSQL (the turn's route, the conversation's counters and the
    user's language as CTEs); a longer one takes the three-statement path. Both must write the same things,
    and nothing else."""
    from bot.conversation.reply_rows import PART_COLUMNS
    from models import Conversation, User
    send(client, "+967712000190", body)
    [(user_id, created)] = session.execute(select(User.id, User.updated_at)).all()
    assert session.get(User, user_id).preferred_language is None
    session.commit()
    run_jobs(app)
    session.expire_all()
    [inbound] = session.scalars(select(Message).where(Message.direction == "inbound")).all()
    replies = outbound(session)
    assert len(replies) >= parts and [r.part_index for r in replies] == list(range(len(replies)))
    assert inbound.body == body and inbound.status == "processed"  # the CTE touched only its columns
    assert (inbound.route, inbound.language) == ("llm", language) and inbound.message_type == "text"
    user = session.get(User, user_id)
    assert (user.preferred_language, user.language_explicit) == (language, False) and user.updated_at > created
    assert user.phone == "+967712000190"
    assert all(r.message_type == "text" and r.reply_to_id == inbound.id and r.route == "llm" for r in replies)
    conversation = session.get(Conversation, inbound.conversation_id)
    assert conversation.message_count == 1 + len(replies)
    assert "awaiting" in (conversation.context or {})
    assert set(PART_COLUMNS) <= set(Message.__table__.c.keys())
