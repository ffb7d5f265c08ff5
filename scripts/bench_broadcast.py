#!/usr/bin/env python
"""Benchmarks a broadcast on this machine: the achieved send rate against BROADCAST_MPS, and the worker's CPU
per recipient, on the Procfile's own processes (one `worker`, the `clock`) with real PostgreSQL and Redis.

    .venv/bin/python scripts/bench_broadcast.py [--recipients 1000] [--mps 10,40,80] [--json out.json]

For each rate: a fresh database (migrated by the Procfile's `release`), one event with --recipients registrants
in WhatsApp's 24-hour window, a broadcast confirmed as `/broadcast` + "yes" would (its recipients written by the
product's own `plan`), then `worker` and `clock` are started with BROADCAST_MPS set. The fake Twilio of
tests/fakes.py (TCP_NODELAY set, as Twilio's API answers) records each message; the rate is (n - 1) / (last -
first), the worker's CPU is its process group's user+system time from the first send to the last, per message.

It creates and drops its own PostgreSQL database, uses Redis db 12 (flushed), and stops every process it started.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import timedelta

import redis
from bench.config import PROJECT, VENV_BIN, log
from bench.fakes import load_fakes
from bench.host import machine_info
from bench.procs import group_members, proc_cpu, stop_group
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, PROJECT)  # the bot and its models, for seeding as the product does
from bot.delivery import audience  # noqa: E402
from models import Broadcast, BroadcastRecipient, Event, Registration, User  # noqa: E402
from models.base import utcnow  # noqa: E402

PG_ADMIN = os.environ.get("BENCH_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432")
REDIS_URL = "redis://127.0.0.1:6379/12"
DB = f"bench_broadcast_{os.getpid()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--mps", default="10,40,80", help="comma list of BROADCAST_MPS values")
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    fakes = load_fakes(os.path.join(PROJECT, "tests", "fakes.py"))
    fakes._Handler.disable_nagle_algorithm = True
    twilio = fakes.FakeTwilio(callbacks="none").start()
    results = []
    try:
        for mps in (float(m) for m in args.mps.split(",")):
            results.append(run_once(twilio, args.recipients, mps))
            log(json.dumps(results[-1]))
    finally:
        twilio.stop()
    print(f"{'BROADCAST_MPS':>13} {'sent':>6} {'achieved/s':>10} {'of target':>9} {'worker CPU/msg':>14}")
    for r in results:
        print(f"{r['mps']:>13.0f} {r['sent']:>6} {r['achieved_mps']:>10.1f} {r['achieved_mps'] / r['mps']:>9.0%} "
              f"{r['worker_cpu_ms_per_message']:>11.2f} ms")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"machine": machine_info(), "results": results}, out, indent=2)
    return 0


def run_once(twilio, recipients: int, mps: float) -> dict:
    database_url = f"{PG_ADMIN}/{DB}"
    admin = create_engine(f"{PG_ADMIN}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{DB}"'))
        connection.execute(text(f'CREATE DATABASE "{DB}"'))
    redis.Redis.from_url(REDIS_URL).flushdb()
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=REDIS_URL, TWILIO_ACCOUNT_SID=fakes_sid(twilio),
               TWILIO_AUTH_TOKEN=twilio.auth_token, TWILIO_WHATSAPP_NUMBER="whatsapp:+14155238886",
               TWILIO_API_BASE_URL=twilio.url, PUBLIC_BASE_URL="https://bot.example.org", LOG_LEVEL="WARNING",
               BROADCAST_MPS=str(mps), BROADCAST_CHECK_SECONDS="1", REMINDER_CHECK_SECONDS="3600",
               PATH=f"{VENV_BIN}:{os.environ['PATH']}")
    subprocess.run("flask --app app db upgrade", shell=True, cwd=PROJECT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engine = create_engine(database_url)
    seed(engine, recipients)
    twilio.messages.clear()
    procs = [subprocess.Popen(cmd, shell=True, cwd=PROJECT, env=env, start_new_session=True)
             for cmd in ("python -m bot.worker", "python -m bot.worker.clock")]
    try:
        return measure(twilio, procs[0], recipients, mps)
    finally:
        for proc in procs:
            stop_group(proc)
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{DB}"'))
        admin.dispose()


def fakes_sid(twilio) -> str:
    return twilio.account_sid


def seed(engine, recipients: int) -> None:
    """One event, its registrants (all inside the window), and a confirmed broadcast with its recipients."""
    now = utcnow()
    with Session(engine) as session:
        event = Event(code="BENCH", title_en="Bench Night", title_ar="ليلة القياس", status="published",
                      starts_at=now + timedelta(days=3), capacity=recipients)
        author = User(phone="+967799999999", role="admin", preferred_language="en", last_inbound_at=now)
        session.add_all([event, author])
        session.flush()
        users = [{"phone": f"+96771{i:07d}", "preferred_language": "ar" if i % 2 else "en",
                  "last_inbound_at": now - timedelta(hours=1)} for i in range(recipients)]
        session.execute(insert(User), users)
        ids = session.scalars(select(User.id).where(User.role == "attendee")).all()
        session.execute(insert(Registration), [{"event_id": event.id, "user_id": uid, "ticket_code": f"B{uid:07d}",
                                                "seats": 1, "status": "registered"} for uid in ids])
        broadcast = Broadcast(event_id=event.id, author_id=author.id, scope="event", body="Doors open at 7 pm.",
                              language="en", status="sending", confirmed_at=now)
        session.add(broadcast)
        session.flush()
        planned = audience.plan(session, audience.audience(session, event.id), now, {})
        session.execute(insert(BroadcastRecipient), [{"broadcast_id": broadcast.id, "user_id": p.user_id,
                                                      "status": "queued"} for p in planned])
        session.commit()


def measure(twilio, worker: subprocess.Popen, recipients: int, mps: float) -> dict:
    deadline = time.time() + 120 + recipients / mps * 2
    while not twilio.messages:
        assert time.time() < deadline, "nothing was sent"
        time.sleep(0.01)
    cpu_start = sum(proc_cpu(pid) for pid in group_members(worker.pid))
    while len(twilio.messages) < recipients:
        assert time.time() < deadline, f"only {len(twilio.messages)} of {recipients} sent"
        time.sleep(0.05)
    cpu = sum(proc_cpu(pid) for pid in group_members(worker.pid)) - cpu_start
    times = sorted(m["t"] for m in twilio.messages)
    achieved = (len(times) - 1) / (times[-1] - times[0])
    return {"mps": mps, "sent": len(times), "achieved_mps": round(achieved, 2),
            "worker_cpu_ms_per_message": round(cpu * 1000 / (len(times) - 1), 3),
            "distinct_recipients": len({m["to"] for m in twilio.messages})}


if __name__ == "__main__":
    sys.exit(main())
