#!/usr/bin/env python
"""CPU per status callback and per LLM-route reply, in-process, against real PostgreSQL and Redis: the two
costs every reply brings in production (three callbacks — sent, delivered, read — and the reply itself;
`check_capacity.py` offers LLM-route messages).

    .venv/bin/python scripts/bench_turn_cpu.py [--project DIR] [--replies 400] [--callbacks 1500]

callbacks  pre-signed sent/delivered/read callbacks for stored messages, posted to the Flask app in-process
           (test client): CPU ms per callback after 300 warm-up callbacks.
replies    --replies users each send "LLMPROBE … capacity" (direct intake), then a real RQ worker in burst mode
           answers them all, with the fake Twilio and OpenAI of tests/fakes.py (TCP_NODELAY) in this process:
           CPU ms per reply (the fakes' own CPU included, about 1 ms).

--project runs the code of another checkout (e.g. `git worktree add /tmp/ref REF`), to compare refs with the
same script. Uses BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/bot_test_me; its tables are
truncated; migrate it first with `flask --app app db upgrade`) and Redis db 14 (flushed).
"""
import argparse
import logging
import os
import secrets
import sys
import time
import urllib.parse

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--project", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
parser.add_argument("--replies", type=int, default=400)
parser.add_argument("--callbacks", type=int, default=1500)
args = parser.parse_args()
sys.path.insert(0, args.project)  # the checkout measured: its bot, models and tests/fakes.py
os.environ["LOG_LEVEL"] = "WARNING"

import redis  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

import tests.fakes as fakes  # noqa: E402
from bot.app import create_app  # noqa: E402
from bot.core.settings import Settings  # noqa: E402
from models import Base  # noqa: E402
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, BOT_NUMBER, PUBLIC_BASE_URL, inbound_params, post_signed, run_jobs  # noqa: E402,E501

DB = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/bot_test_me")
REDIS = "redis://127.0.0.1:6379/14"


def fresh() -> None:
    engine = create_engine(DB)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    redis.Redis.from_url(REDIS).flushdb()


def app_for(twilio, openai):
    known = Settings.__dataclass_fields__
    extra = {"broadcast_check_seconds": 0} if "broadcast_check_seconds" in known else {}
    return create_app(Settings(
        env="test", database_url=DB, redis_url=REDIS, twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
        twilio_whatsapp_number=BOT_NUMBER, twilio_api_base_url=twilio.url, public_base_url=PUBLIC_BASE_URL,
        openai_api_key="sk-test", openai_base_url=f"{openai.url}/v1", openai_model="gpt-4o-mini",
        feedback_prompt=False, reminder_check_seconds=0, intake_mode="direct", **extra))


def callbacks(app, n: int) -> float:
    engine = create_engine(DB)
    sids = ["SM" + secrets.token_hex(16) for _ in range((n + 300) // 3 + 1)]
    with engine.begin() as c:
        user = c.execute(text("INSERT INTO users (phone, role, status, language_explicit) "
                              "VALUES ('+967700000001', 'attendee', 'active', false) RETURNING id")).scalar()
        conversation = c.execute(text("INSERT INTO conversations (user_id, status, message_count) "
                                      "VALUES (:u, 'active', 0) RETURNING id"), {"u": user}).scalar()
        c.execute(text("INSERT INTO messages (conversation_id, user_id, direction, role, body, status, status_rank, "
                       "twilio_sid, part_index, part_count) VALUES (:c, :u, 'outbound', 'assistant', 'x', 'queued', "
                       "3, :s, 0, 1)"), [{"c": conversation, "u": user, "s": sid} for sid in sids])
    engine.dispose()
    validator, client, signed = RequestValidator(AUTH_TOKEN), app.test_client(), []
    for sid in sids:
        for status in ("sent", "delivered", "read"):
            form = {"MessageSid": sid, "MessageStatus": status, "AccountSid": ACCOUNT_SID,
                    "To": "whatsapp:+967700000001", "From": BOT_NUMBER, "ApiVersion": "2010-04-01"}
            signed.append((urllib.parse.urlencode(form), validator.compute_signature(
                PUBLIC_BASE_URL + "/webhooks/twilio/status", form)))

    def post(body: str, signature: str) -> None:
        response = client.post("/webhooks/twilio/status", data=body, headers={"X-Twilio-Signature": signature},
                               content_type="application/x-www-form-urlencoded")
        assert response.status_code == 200, response.status_code
    for body, signature in signed[:300]:
        post(body, signature)
    started = time.process_time()
    for body, signature in signed[300:300 + n]:
        post(body, signature)
    return 1000 * (time.process_time() - started) / n


def replies(app, twilio, n: int) -> float:
    client = app.test_client()

    def say(count: int, tag: str) -> None:
        for i in range(count):
            params = inbound_params(f"+9677{tag}{i:05d}", f"LLMPROBE c{tag}{i} capacity")
            assert post_signed(client, "/webhooks/twilio/messages", params).status_code == 200
    say(100, "1")
    run_jobs(app)  # warm-up: connections, caches, the matcher
    say(n, "2")
    sent, started = len(twilio.messages), time.process_time()
    run_jobs(app)
    assert len(twilio.messages) - sent == n, "every turn answered"
    return 1000 * (time.process_time() - started) / n


def main() -> int:
    fakes._Handler.disable_nagle_algorithm = True
    twilio, openai = fakes.FakeTwilio().start(), fakes.FakeOpenAI().start()
    logging.disable(logging.WARNING)
    try:
        fresh()
        print(f"status callback: {callbacks(app_for(twilio, openai), args.callbacks):.2f} ms CPU")
        fresh()
        print(f"LLM-route reply: {replies(app_for(twilio, openai), twilio, args.replies):.2f} ms CPU")
    finally:
        twilio.stop()
        openai.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
