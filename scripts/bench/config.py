"""Where things are, and what a benchmark may touch on this machine: the PostgreSQL server, one Redis db, a lock."""
from __future__ import annotations

import os
import sys

SCRIPTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT = os.path.dirname(SCRIPTS)
VENV_BIN = os.path.join(PROJECT, ".venv", "bin")
ENTRY = os.path.join(SCRIPTS, "bench_intake.py")  # also runs the fakes' child process: `bench_intake.py _fakes`
LUA = os.path.join(SCRIPTS, "bench_wrk.lua")
PG_ADMIN = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
# A name of our own per invocation: a fixed name could be dropped or reused by another run on this shared server.
DB_NAME = f"bench_intake_{os.getpid()}"
LOCK_PATH = "/tmp/bench_intake.lock"  # one benchmark at a time: they share Redis db 13 and the CPUs
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "13"))  # scripts/bench_profile.py also uses 13: not both at once
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
BOT_NUMBER = "whatsapp:+14155238886"
WEBHOOK_PATH = "/webhooks/twilio/messages"
QUEUE_KEY = "rq:queue:replies"
BUFFER_KEY = "bot:intake"  # INTAKE_MODE=buffered (the default): turns wait here until a worker stores them


def log(*parts) -> None:
    """Progress for the person running the benchmark, on stderr: stdout carries only the results table."""
    print(*parts, file=sys.stderr, flush=True)
