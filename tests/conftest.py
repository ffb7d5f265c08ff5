"""Fixtures: a real PostgreSQL database and a real Redis database, reset before each test; fake Twilio and
OpenAI servers on 127.0.0.1 reached through the real clients; the app, its client, its CLI runner.

TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/bot_test) and TEST_REDIS_URL (default
redis://127.0.0.1:6379/15) choose the servers; `.ci/run` makes sure both are up.
"""
from __future__ import annotations

import json
import os
import secrets
import threading
import urllib.parse
from pathlib import Path

import pytest
import redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from twilio.request_validator import RequestValidator

from bot.app import create_app
from bot.core.db import db as database
from bot.core.settings import Settings, normalise_database_url
from bot.llm import prompting
from bot.wiring import runtime
from bot.worker.main import BotJob
from models import Base
from models.migrate import upgrade
from tests.fakes import ACCOUNT_SID, AUTH_TOKEN, FakeOpenAI, FakeTwilio

DATA = Path(__file__).parent / "data"
PUBLIC_BASE_URL = "https://bot.example.org"  # Twilio signs this; the test client calls http://localhost
BOT_NUMBER = "whatsapp:+14155238886"
DATABASE_URL = normalise_database_url(os.environ.get("TEST_DATABASE_URL",
                                                     "postgresql://postgres@127.0.0.1:5432/bot_test"))
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _recreate_database(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated_database() -> str:
    _recreate_database(DATABASE_URL)
    upgrade(DATABASE_URL)
    return DATABASE_URL


@pytest.fixture(scope="session")
def fake_twilio():
    server = FakeTwilio().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fake_openai():
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def twilio(fake_twilio):
    fake_twilio.messages.clear()
    fake_twilio.attempts.clear()
    fake_twilio.rules.clear()
    fake_twilio._tries.clear()
    fake_twilio.callbacks = "none"
    fake_twilio.delay = 0.0
    return fake_twilio


@pytest.fixture
def llm(fake_openai):
    fake_openai.requests.clear()
    fake_openai.fail_status = None
    fake_openai.fail_times = 10**9
    fake_openai.delay = 0.0
    fake_openai.answer = None
    fake_openai.script = []
    return fake_openai


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def settings(migrated_database, twilio, llm, redis_client) -> Settings:
    return Settings(
        env="test", database_url=migrated_database, redis_url=REDIS_URL,
        twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN, twilio_whatsapp_number=BOT_NUMBER,
        twilio_api_base_url=twilio.url, public_base_url=PUBLIC_BASE_URL,
        openai_api_key="sk-test", openai_base_url=f"{llm.url}/v1", openai_model="gpt-4o-mini",
        llm_timeout=2.0, llm_max_retries=1, send_backoff_seconds=0.05, secret_key="test-secret",
        send_retry_seconds=0,  # attempts counted exactly; tests/faults/test_twilio_outage.py waits one out
        feedback_prompt=False,  # exact reply bodies in spine tests; the routing tests turn it on
        reminder_check_seconds=0,  # no embedded reminder thread outliving an app built with redis_url=None
        broadcast_check_seconds=0,  # nor a broadcast one
        # most tests look at the database right after a webhook; tests/intake/test_buffered_intake.py covers the
        # production default (buffered), and so does every acceptance check
        intake_mode="direct",
    )


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(autouse=True)
def fresh_prompt_cache():
    """Prompt templates and context rules are cached per process; each test starts from the database."""
    prompting.clear_cache()
    yield
    prompting.clear_cache()


@pytest.fixture
def make_app(settings):
    """Builds an app from the test settings with changes, e.g. `make_app(openai_api_key=None)`."""
    _truncate_all(settings.database_url)
    built = []

    def build(**changes):
        app = create_app(settings.replace(**changes))
        app.config["TESTING"] = True
        built.append(app)
        return app

    yield build
    for app in built:
        app.extensions["db"].engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(app):
    """A session for assertions; each use sees the latest committed data."""
    with app.app_context(), database.session_scope() as s:
        yield s


def inbound_params(phone: str, body: str, sid: str | None = None, profile: str = "Test Attendee", **extra) -> dict:
    """A WhatsApp inbound form as Twilio sends it."""
    sid = sid or "SM" + secrets.token_hex(16)
    params = {"SmsMessageSid": sid, "NumMedia": "0", "ProfileName": profile, "MessageType": "text",
              "SmsSid": sid, "WaId": phone.lstrip("+"), "SmsStatus": "received", "Body": body, "To": BOT_NUMBER,
              "NumSegments": "1", "ReferralNumMedia": "0", "MessageSid": sid, "AccountSid": ACCOUNT_SID,
              "From": f"whatsapp:{phone}", "ApiVersion": "2010-04-01"}
    params.update(extra)
    return params


def load_payload(name: str) -> dict:
    """A recorded Twilio webhook form from tests/data/."""
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def sign(path: str, params: dict, token: str = AUTH_TOKEN, query: str = "") -> str:
    url = PUBLIC_BASE_URL + path + (f"?{query}" if query else "")
    return RequestValidator(token).compute_signature(url, params)


def post_signed(client, path: str, params: dict, token: str = AUTH_TOKEN, signature: str | None = None,
                query: str = ""):
    sig = signature if signature is not None else sign(path, params, token, query)
    return client.post(path + (f"?{query}" if query else ""), data=urllib.parse.urlencode(params),
                       content_type="application/x-www-form-urlencoded", headers={"X-Twilio-Signature": sig})


def send(client, phone: str, body: str, **kw):
    """Posts a signed inbound message; returns (response, MessageSid)."""
    params = inbound_params(phone, body, **kw)
    return post_signed(client, "/webhooks/twilio/messages", params), params["MessageSid"]


class BurstWorker(SimpleWorker):
    """The real RQ worker in burst mode, minus its command-channel subscription: stopping that pub/sub thread
    costs up to a second per run, which hundreds of turns cannot afford. It runs the worker's job class (jobs
    queued under earlier releases' names included)."""

    job_class = BotJob

    def subscribe(self) -> None:
        pass


def run_jobs(app) -> None:
    """Runs queued jobs through a real RQ worker in burst mode, in this process."""
    with app.app_context():
        rt = runtime()
        BurstWorker(rt.queue.queues, connection=rt.redis, serializer=JSONSerializer).work(burst=True)


def deliver_concurrently(app, params: dict, n: int = 20) -> list[int]:
    """Posts the same signed form from `n` threads released at once; returns the status codes."""
    barrier = threading.Barrier(n)
    codes: list[int] = []

    def deliver():
        client = app.test_client()
        barrier.wait()
        codes.append(post_signed(client, "/webhooks/twilio/messages", params).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


@pytest.fixture
def redis_server():
    """A `redis-server` of the test's own (AOF on, a free port, a temporary directory) that it may stop, kill
    and restart: the shared Redis is never touched (tests/faults/)."""
    from tests.faults.stack import RedisServer
    server = RedisServer().start()
    yield server
    server.close()
