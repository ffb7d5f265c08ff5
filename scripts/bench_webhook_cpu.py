#!/usr/bin/env python3
"""CPU per signed webhook and per /healthz, in-process: the Flask app called as a WSGI callable with
pre-signed requests (no HTTP server, no load generator), so the figure is the app's own cost.

    .venv/bin/python scripts/bench_webhook_cpu.py [buffered|direct] [--prof tottime|cumulative]

Uses BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/bot_test; tables must exist:
`flask --app app db upgrade`) and BENCH_REDIS_URL (default redis://127.0.0.1:6379/14, flushed). Prints
"healthz ms X hook ms Y": CPU milliseconds per request over 2,000 /healthz and 1,000 webhooks after 300 warm-up
webhooks; --prof adds a cProfile listing of the webhooks. Companion of scripts/bench_intake.py (through
gunicorn) and scripts/bench_profile.py (round trips and steps).
"""
import cProfile
import io
import logging
import os
import pstats
import sys
import time
from pathlib import Path

import redis
from bench.signing import Signer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project's packages, wherever this runs from
os.environ.setdefault("LOG_LEVEL", "WARNING")

from bot.app import create_app
from bot.core.settings import Settings, normalise_database_url

PUBLIC = "https://bot.example.org"
TOKEN = "bench-token"
ACCOUNT = "AC" + "0" * 32


def signed_requests(n: int) -> list[tuple[bytes, str]]:
    """(urlencoded body, X-Twilio-Signature) of n text webhooks from 500 users, as bench_intake signs them."""
    signer = Signer(PUBLIC, ACCOUNT, TOKEN)
    out = []
    for i in range(n):
        signature, body = signer.signed("+967712345%03d" % (i % 500), "Is there parking at the venue?", "Test")
        out.append((body.encode(), signature))
    return out


def environ(body: bytes, signature: str, path: str = "/webhooks/twilio/messages", method: str = "POST") -> dict:
    return {"REQUEST_METHOD": method, "PATH_INFO": path, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000",
            "wsgi.url_scheme": "http", "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "HTTP_X_TWILIO_SIGNATURE": signature,
            "wsgi.errors": sys.stderr, "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "127.0.0.1:8000"}


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else "buffered"
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    redis.Redis.from_url(redis_url).flushdb()
    app = create_app(Settings(
        env="test", database_url=normalise_database_url(os.environ.get(
            "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bot_test")),
        redis_url=redis_url, twilio_account_sid=ACCOUNT, twilio_auth_token=TOKEN, public_base_url=PUBLIC,
        reminder_check_seconds=0, intake_mode=mode))
    logging.getLogger().setLevel(logging.WARNING)
    requests = signed_requests(1300)

    def call(env: dict) -> str:
        status = []
        for _ in app(env, lambda s, h, e=None: status.append(s)):
            pass
        return status[0]

    for body, signature in requests[:300]:
        assert call(environ(body, signature)).startswith("200")

    def cpu_ms(kind: str, n: int) -> float:
        started = time.process_time()
        if kind == "hook":
            for body, signature in requests[300:300 + n]:
                call(environ(body, signature))
        else:
            for _ in range(n):
                call(environ(b"", "", "/healthz", "GET"))
        return (time.process_time() - started) / n * 1000

    if "--prof" in sys.argv:
        profiler = cProfile.Profile()
        profiler.enable()
        cpu_ms("hook", 1000)
        profiler.disable()
        pstats.Stats(profiler).sort_stats(sys.argv[-1] if sys.argv[-1] in ("tottime", "cumulative")
                                          else "cumulative").print_stats(40)
        return 0
    print(f"healthz ms {cpu_ms('health', 2000):.3f} hook ms {cpu_ms('hook', 1000):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
