#!/usr/bin/env python
"""Where the time goes: the webhook path and the worker path, one request / one job at a time, profiled.

    .venv/bin/python scripts/bench_profile.py [--requests 1000] [--turns 500] [--dump DIR] [--json out.json]

Companion of scripts/bench_intake.py (same fakes, same signed payloads, same env). It builds the app in this
process against PostgreSQL (database `bench_intake_profile`, created and dropped here) and Redis db 13, then:

  webhook  --requests signed webhooks through Flask's test client (no gunicorn, no network to the app), under
           cProfile: wall and CPU ms per request, SQL statements / transactions / pool pings / Redis round trips
           per request, and the cumulative time of each step (signature, form, phonenumbers, each SQL step,
           commit, RQ enqueue, logging).
  worker   --turns queued turns (distinct users) answered by `BotWorker(...).work(burst=True)`, the
           worker class `python -m bot.worker` runs, under cProfile: the same figures per reply, split into RQ's
           own bookkeeping, the user lock, SQL steps, the OpenAI client and the Twilio client.

Serial, so the figures are per-request costs, not throughput. The fakes run in a child process with
TCP_NODELAY (see bench_intake.py). Everything targets 127.0.0.1; loops are bounded by count.
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from types import SimpleNamespace

from bench.config import WEBHOOK_PATH
from bench.host import acquire_lock
from bench.inprocess import InProcessStack
from bench.profile_counts import Counters, diff, print_section, print_timed, steps, top_self
from bench.profile_steps import WEBHOOK_STEPS, WORKER_STEPS, StepTimers
from bench.services import flush_redis
from bench.signing import Signer
from bench.snapshot import Code, use_snapshot
from rq.serializers import JSONSerializer

DB = f"bench_intake_profile_{os.getpid()}"

Post = Callable[[str, str], None]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000, help="profiled webhooks")
    parser.add_argument("--turns", type=int, default=500, help="profiled worker replies (distinct users)")
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--dump", metavar="DIR", help="write webhook.prof and worker.prof here (pstats format)")
    parser.add_argument("--ref", help="profile a `git archive` of this commit (e.g. HEAD) instead of the working tree")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--timers", action="store_true",
                        help="time TIMED_STEPS with the thread CPU clock in the run without the profiler: "
                             "undistorted CPU per step")
    parser.add_argument("--cpu-clock", action="store_true",
                        help="profile with the process CPU clock: the steps' ms are CPU, not wall (waits on "
                             "PostgreSQL, Redis and the fakes count for nothing)")
    return parser.parse_args()


def import_bot(src: str) -> SimpleNamespace:
    """The bot's pieces this script drives, imported from src: the working tree, or the --ref snapshot."""
    sys.path.insert(0, src)
    try:
        from bot.app import create_app
        from bot.core.db import db
        from bot.wiring import runtime
        from bot.worker.main import BotWorker
    except ImportError:  # a snapshot from before the package layout (bot/ was flat)
        from bot import create_app
        from bot.db import db
        from bot.runtime import runtime
        from bot.worker import BotWorker
    return SimpleNamespace(create_app=create_app, db=db, runtime=runtime, BotWorker=BotWorker)


class Clocks:
    """Wall, process CPU and thread CPU seconds of a stretch of code; with a profiler, profiled (cProfile)."""

    def __init__(self, profile: bool = False, cpu_clock: bool = False):
        self.profiler = None
        if profile:
            self.profiler = cProfile.Profile(time.process_time) if cpu_clock else cProfile.Profile()

    def __enter__(self) -> Clocks:
        self._start = time.perf_counter(), time.process_time(), time.thread_time()
        if self.profiler:
            self.profiler.enable()
        return self

    def __exit__(self, *_exc) -> None:
        if self.profiler:
            self.profiler.disable()
        now = time.perf_counter(), time.process_time(), time.thread_time()
        self.wall, self.cpu, self.thread_cpu = (b - a for a, b in zip(self._start, now, strict=True))


def webhook_poster(app) -> Post:
    """Posts one signed webhook through Flask's test client; anything but 200 is an error."""
    client = app.test_client()

    def post(sig: str, body: str) -> None:
        r = client.post(WEBHOOK_PATH, data=body, headers={
            "X-Twilio-Signature": sig, "Content-Type": "application/x-www-form-urlencoded"})
        if r.status_code != 200:
            raise RuntimeError(f"webhook answered {r.status_code}: {r.get_data(as_text=True)[:200]}")
    return post


def post_each(post: Post, signed: list[tuple[str, str]]) -> None:
    for sig, body in signed:
        post(sig, body)


def profile_webhook(post: Post, signer: Signer, counters: Counters, args) -> dict:
    """--requests webhooks under cProfile, then up to 500 more without it (the undistorted cost)."""
    post_each(post, signer.batch(args.users, pool=1, users=args.users, tag="warm"))  # every user exists
    signed = signer.batch(args.requests, pool=1, users=args.users, tag="prof")
    before = counters.snapshot()
    with Clocks(profile=True, cpu_clock=args.cpu_clock) as profiled:
        post_each(post, signed)
    n = len(signed)
    stats = pstats.Stats(profiled.profiler)
    counts = diff(counters.snapshot(), before, n)
    plain_signed = signer.batch(min(n, 500), pool=1, users=args.users, tag="plain")
    with Clocks() as plain:
        post_each(post, plain_signed)
    plain_wall, plain_cpu = plain.wall / len(plain_signed), plain.cpu / len(plain_signed)
    rows, top = steps(stats, WEBHOOK_STEPS, n), top_self(stats, n)
    print_section("webhook path (Flask test client)", n, 1000 * profiled.wall / n, 1000 * profiled.cpu / n, counts,
                  rows, top)
    print(f"   without the profiler: {1000 * plain_wall:.2f} ms wall, {1000 * plain_cpu:.2f} ms CPU per request")
    dump(stats, args.dump, "webhook.prof")
    return {"n": n, "wall_ms": 1000 * profiled.wall / n, "cpu_ms": 1000 * profiled.cpu / n,
            "plain_wall_ms": 1000 * plain_wall, "plain_cpu_ms": 1000 * plain_cpu,
            "counts": counts, "steps": rows, "top_self": top}


def profile_worker(app, bot: SimpleNamespace, stack: InProcessStack, post: Post, signer: Signer,
                   counters: Counters, args) -> dict:
    """--turns queued turns from distinct users answered by one BotWorker in burst mode under cProfile, then
    as many again without it."""
    flush_redis()
    post_each(post, signer.batch(args.turns, pool=3, users=args.turns, tag="job"))
    with app.app_context():
        rt = bot.runtime()
        # with the buffered intake (the default) the turns wait in Redis and one `intake` job stores them
        # and queues the replies: the worker listens to both queues, as `bot.worker` does
        queued = rt.queue.queue.count + rt.queue.intake.count
        worker = bot.BotWorker(rt.queue.queues, connection=rt.redis, serializer=JSONSerializer)
        before, got0 = counters.snapshot(), stack.fakes_count()
        with Clocks(profile=True, cpu_clock=args.cpu_clock) as profiled:
            worker.work(burst=True, logging_level="WARNING")
        after = counters.snapshot()
        replies = stack.fakes_count() - got0
        plain, plain_n, timers = plain_worker_run(worker, stack, post, signer, args)
    n = max(replies, 1)
    stats = pstats.Stats(profiled.profiler)
    counts = diff(after, before, n)
    rows, top = steps(stats, WORKER_STEPS, n), top_self(stats, n)
    print_section(f"worker path (BotWorker burst, {queued} jobs, {replies} replies)", n, 1000 * profiled.wall / n,
                  1000 * profiled.cpu / n, counts, rows, top)
    print(f"   without the profiler: {1000 * plain.wall / plain_n:.2f} ms wall, "
          f"{1000 * plain.cpu / plain_n:.2f} ms CPU per reply ({plain_n} replies, "
          f"{plain_n / plain.wall:.1f} replies/s in this process)")
    report = {"jobs": queued, "replies": replies, "wall_ms": 1000 * profiled.wall / n,
              "cpu_ms": 1000 * profiled.cpu / n, "plain_wall_ms": 1000 * plain.wall / plain_n,
              "plain_cpu_ms": 1000 * plain.cpu / plain_n, "counts": counts, "steps": rows, "top_self": top}
    if args.timers:
        report["timed_steps"] = timers.rows(plain_n)
        print_timed(report["timed_steps"], plain_n, plain.thread_cpu)
    dump(stats, args.dump, "worker.prof")
    return report


def plain_worker_run(worker, stack: InProcessStack, post: Post, signer: Signer,
                     args) -> tuple[Clocks, int, StepTimers]:
    """The same again without the profiler, for the undistorted cost (with --timers: CPU per step)."""
    post_each(post, signer.batch(args.turns, pool=4, users=args.turns, tag="plainjob"))
    got1 = stack.fakes_count()
    timers = StepTimers()
    if args.timers:
        timers.install()
    with Clocks() as plain:
        worker.work(burst=True, logging_level="WARNING")
    timers.remove()
    return plain, max(stack.fakes_count() - got1, 1), timers


def dump(stats: pstats.Stats, directory: str | None, name: str) -> None:
    if directory:
        os.makedirs(directory, exist_ok=True)
        stats.dump_stats(os.path.join(directory, name))


def profile(code: Code, stack: InProcessStack, args) -> dict:
    """Both paths through an app built here from the code under test."""
    bot = import_bot(code.src)
    try:
        app = bot.create_app()
        counters = Counters(bot.db.engine)
        signer = Signer(stack.public, stack.account_sid, stack.auth_token)
        post = webhook_poster(app)
        report: dict = {"code": code.info}
        report["webhook"] = profile_webhook(post, signer, counters, args)
        report["worker"] = profile_worker(app, bot, stack, post, signer, counters, args)
        return report
    finally:
        with contextlib.suppress(Exception):  # the database is dropped next anyway
            if bot.db.engine is not None:
                bot.db.engine.dispose()


def main() -> int:
    args = parse_args()
    acquire_lock(timeout=1800)  # held until this process ends
    workdir = tempfile.mkdtemp(prefix="bench_profile-")
    try:
        code = use_snapshot(args.ref, workdir)
        print(f"code: {code.info}")
        with InProcessStack(code, DB) as stack:
            report = profile(code, stack, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
