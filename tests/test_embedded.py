"""The embedded default: SQLite, jobs in a background thread, replies to a local JSONL outbox — no Redis,
no Twilio account, no OpenAI key."""
import json
import urllib.parse
from datetime import datetime

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from bot.app import create_app
from bot.core.db import db
from bot.core.queue import ThreadTaskQueue
from bot.core.settings import DEV_AUTH_TOKEN, Settings
from bot.i18n import catalog
from bot.nlu.normalize import detect_language
from models import Message, MessageAttachment, User
from models.migrate import upgrade
from tests.conftest import inbound_params, load_payload
from tests.fakes import status_params

BASE = "http://localhost"  # no PUBLIC_BASE_URL: the signed URL is the request URL


@pytest.fixture
def embedded(tmp_path):
    url = f"sqlite:///{tmp_path}/bot.sqlite3"
    upgrade(url)
    # No reminder or broadcast clock thread: it would outlive the test and sweep whichever database `db` points
    # at next (a broadcast thread left by an earlier test sent a sixth of the fault test's broadcast to an outbox).
    app = create_app(Settings(env="development", database_url=url,
                              broadcast_check_seconds=0, outbox_path=str(tmp_path / "outbox.jsonl"),
                              reminder_check_seconds=0))
    app.config["TESTING"] = True
    yield app
    app.extensions["runtime"].queue.join()
    app.extensions["db"].engine.dispose()


def post(app, path, params, token=DEV_AUTH_TOKEN):
    signature = RequestValidator(token).compute_signature(BASE + path, params)
    return app.test_client().post(path, data=urllib.parse.urlencode(params),
                                  content_type="application/x-www-form-urlencoded",
                                  headers={"X-Twilio-Signature": signature})


def wait(app) -> None:
    app.extensions["runtime"].queue.join()


def outbox(app) -> list[dict]:
    path = app.config["SETTINGS"].outbox_path
    try:
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def count(app, statement):
    with app.app_context(), db.session_scope() as s:
        return s.scalar(statement)


def test_embedded_runtime_has_no_redis_twilio_or_llm(embedded):
    rt = embedded.extensions["runtime"]
    assert rt.redis is None and rt.llm is None
    assert isinstance(rt.queue, ThreadTaskQueue)
    assert type(rt.sender).__name__ == "OutboxSender"
    assert embedded.extensions["db"].engine.dialect.name == "sqlite"


def test_webhook_reply_lands_in_the_outbox(embedded):
    question = inbound_params("+967712300001", "Who won the football match yesterday?")
    response = post(embedded, "/webhooks/twilio/messages", question)
    assert response.status_code == 200 and response.mimetype == "text/xml"
    wait(embedded)
    [line] = outbox(embedded)
    assert line["to"] == "whatsapp:+967712300001"
    # no LLM here: an honest, useful answer in the user's language, not an apology for an outage
    assert line["body"].startswith(catalog.MESSAGES["fallback_no_llm"]["en"].split("{")[0])
    assert catalog.MESSAGES["fallback"]["en"] not in line["body"]
    with embedded.app_context(), db.session_scope() as s:
        reply = s.scalars(select(Message).where(Message.direction == "outbound")).one()
        assert (reply.route, reply.twilio_sid, reply.status) == ("fallback", line["sid"], "delivered")


def test_arabic_turn_gets_arabic_first(embedded):
    post(embedded, "/webhooks/twilio/messages", load_payload("inbound_text_ar.json"))
    wait(embedded)
    [line] = outbox(embedded)
    assert line["to"] == "whatsapp:+967733221100"
    # "When does the family day in Crater start?": whichever responder takes it, it answers in Arabic
    assert detect_language(line["body"].splitlines()[0]) == "ar"
    assert line["body"] != catalog.say_both("fallback", "en")


def test_wrong_signature_is_403_in_embedded_mode_too(embedded):
    params = inbound_params("+967712300002", "hi")
    assert post(embedded, "/webhooks/twilio/messages", params, token="not-the-dev-token").status_code == 403
    wait(embedded)
    assert outbox(embedded) == []
    assert count(embedded, select(func.count()).select_from(Message)) == 0


def test_duplicates_deduped_on_sqlite(embedded):
    params = inbound_params("+967712300003", "hello")
    for _ in range(3):
        assert post(embedded, "/webhooks/twilio/messages", params).status_code == 200
    wait(embedded)
    assert count(embedded, select(func.count()).select_from(Message).where(Message.direction == "inbound")) == 1
    assert count(embedded, select(func.count()).select_from(User)) == 1
    assert len(outbox(embedded)) == 1


def test_status_callback_on_sqlite(embedded):
    post(embedded, "/webhooks/twilio/messages", inbound_params("+967712300004", "hello"))
    wait(embedded)
    [line] = outbox(embedded)
    for state in ("read", "sent"):
        assert post(embedded, "/webhooks/twilio/status",
                    status_params(line["sid"], state, line["to"])).status_code == 200
    with embedded.app_context(), db.session_scope() as s:
        assert s.scalar(select(Message.status).where(Message.twilio_sid == line["sid"])) == "read"


def test_users_export_on_sqlite(embedded):
    image = load_payload("inbound_image.json")
    post(embedded, "/webhooks/twilio/messages", image)
    wait(embedded)
    result = embedded.test_cli_runner().invoke(args=["users", "export", "+967771234567"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["user"]["phone"] == "+967771234567"
    [conversation] = document["conversations"]
    inbound, reply = conversation["messages"]
    assert inbound["attachments"] == [{"kind": "media", "url": image["MediaUrl0"], "content_type": "image/jpeg",
                                       "latitude": None, "longitude": None, "address": None, "label": None}]
    assert reply["direction"] == "outbound" and reply["route"] == "media"
    assert "الصورة" in result.stdout, "Arabic is printed unescaped"
    for m in (inbound, reply):
        assert datetime.fromisoformat(m["created_at"]).tzinfo is not None
    assert count(embedded, select(func.count()).select_from(MessageAttachment)) == 1


def test_readyz_on_sqlite_without_redis(embedded):
    response = embedded.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "redis": "not configured"}


def test_llm_answers_are_logged_and_cached_on_sqlite(tmp_path, llm):
    """The LLM route's prebuilt statements (token budget, cache read and upsert, the interaction's log and the
    conversation's token counter) on the embedded database, with the fake OpenAI server."""
    from models import AIInteraction, Conversation, ResponseCache
    url = f"sqlite:///{tmp_path}/bot.sqlite3"
    upgrade(url)
    app = create_app(Settings(env="development", database_url=url,
                              broadcast_check_seconds=0, outbox_path=str(tmp_path / "outbox.jsonl"),
                              reminder_check_seconds=0, openai_api_key="sk-test", openai_base_url=f"{llm.url}/v1",
                              openai_model="gpt-4o-mini", feedback_prompt=False))
    app.config["TESTING"] = True
    try:
        question = "What is the history of quantum origami?"
        for phone in ("+967712300011", "+967712300012"):
            assert post(app, "/webhooks/twilio/messages", inbound_params(phone, question)).status_code == 200
            wait(app)
        assert [line["body"] for line in outbox(app)] == [f"FAKE-LLM: {question}"] * 2
        assert len(llm.requests) == 1, "the second user's identical question came from the cache"
        with app.app_context(), db.session_scope() as s:
            logged = s.scalars(select(AIInteraction).order_by(AIInteraction.id)).all()
            assert [i.cache_hit for i in logged] == [False, True]
            assert logged[0].input_tokens > 0 and logged[0].prompt[-1]["content"] == question
            assert s.scalars(select(ResponseCache)).one().hit_count == 1
            totals = s.scalars(select(Conversation.total_tokens).order_by(Conversation.id)).all()
            assert totals[0] == logged[0].input_tokens + logged[0].output_tokens and totals[1] == 0
    finally:
        app.extensions["runtime"].queue.join()
        app.extensions["db"].engine.dispose()
