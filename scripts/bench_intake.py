#!/usr/bin/env python
"""Benchmarks the webhook intake and the reply worker against real PostgreSQL and Redis on this machine.

    .venv/bin/python scripts/bench_intake.py [--duration 10] [--connections 8] [--turns 2000] [--runs 1]
                                             [--json out.json]

Each run starts its own stack exactly as the Procfile does (release, `web` with $PORT, `worker`), with the
fake Twilio REST API and fake OpenAI from tests/fakes.py in a child process, then measures:

  1. intake   signed-webhook requests/s vs GET /healthz requests/s of the same gunicorn server, with NO worker
              running (reply jobs just accumulate in Redis). Same load generator, same connections, for both.
  2. latency  webhook p50/p99 at --connections concurrent keep-alive connections (from the same run as 1).
  3. drain    --turns turns from as many distinct users are queued (no worker), then ONE `python -m bot.worker`
              is started; replies/s = turns the fake Twilio received per second (first to last reply).
  4. e2e      --e2e-messages webhooks sent one at a time, ~--e2e-gap-ms apart, with that worker idle: time from
              POSTing the webhook until the fake Twilio receives the reply (p50/p99).

Load generator: `wrk` with scripts/bench_wrk.lua, which cycles through pre-signed requests (a unique MessageSid
each). Install it with `apt-get install -y wrk`; without it a lean asyncio generator is used (scripts/bench/pyload.py:
raw pre-built requests over keep-alive connections; it costs more CPU, so ratios are less favourable).

Everything targets 127.0.0.1; every loop is bounded in count and time. The script creates and drops the
PostgreSQL database `bench_intake`, uses only Redis db 13 (flushed before each phase and at the end), and stops
every process it started (process groups it created), also on Ctrl-C or an error.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys

from bench.config import LOCK_PATH, log
from bench.fakes import serve_fakes
from bench.report import print_table, summarise, write_json
from bench.runner import run_all


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per throughput measurement")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up before each measurement")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (1 keeps the generator cheap)")
    parser.add_argument("--turns", type=int, default=2000, help="queued turns (distinct users) for the drain")
    parser.add_argument("--users", type=int, default=500, help="distinct phone numbers in the intake load")
    parser.add_argument("--e2e-messages", type=int, default=200)
    parser.add_argument("--e2e-gap-ms", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=1, help="independent runs (fresh stack each); medians shown")
    parser.add_argument("--phases", default="intake,drain,e2e",
                        help="comma list of intake, drain, e2e and (not by default) followup")
    parser.add_argument("--followup-users", type=int, default=5)
    parser.add_argument("--followup-llm-ms", type=float, default=2000.0)
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--max-signed", type=int, default=200_000, help="cap on pre-signed webhook requests")
    parser.add_argument("--fakes-as-is", action="store_true",
                        help="leave tests/fakes.py's ~40 ms Nagle/delayed-ACK stall per call in place")
    parser.add_argument("--quiet-wait", type=float, default=60.0,
                        help="before each run, wait up to this many seconds for other load on the machine to stop")
    parser.add_argument("--attempts", type=int, default=3,
                        help="measure the intake again (at most this many times) when outside load disturbed it")
    parser.add_argument("--max-foreign", type=float, default=10.0,
                        help="%% of the machine's CPU that other users may take during an accepted intake measurement")
    parser.add_argument("--ref", help="benchmark a `git archive` of this commit (e.g. HEAD) instead of the working "
                                      "tree, which other people may be editing")
    parser.add_argument("--lock-wait", type=float, default=1800.0,
                        help=f"seconds to wait for another benchmark holding {LOCK_PATH}")
    parser.add_argument("--json", metavar="PATH", help="also write every figure as JSON here")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs directory")
    return parser


def chosen_phases(parser: argparse.ArgumentParser, args: argparse.Namespace) -> set[str]:
    phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    if phases & {"e2e", "followup"} and "drain" not in phases:
        parser.error("e2e and followup need the drain phase (they reuse its worker and users)")
    return phases


def record_setup(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Adds what the run depends on besides the options (the generator, gunicorn's settings) to args: the table's
    header and the JSON's "args" show them."""
    if args.generator == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed: apt-get install -y wrk (or use --generator python)")
    args.generator_used = "wrk" if args.generator in ("auto", "wrk") and shutil.which("wrk") else "python"
    if args.generator_used == "python" and args.generator == "auto":
        log("wrk not found (install: apt-get install -y wrk); using the Python asyncio generator")
    args.web_concurrency = os.environ.get("WEB_CONCURRENCY", "default (gunicorn.conf.py)")
    args.web_threads = os.environ.get("WEB_THREADS", "default")
    args.intake_mode = os.environ.get("INTAKE_MODE", "buffered (default)")


def stop_on_signals() -> None:
    """SIGTERM and SIGHUP end the run like Ctrl-C: every process it started is stopped."""
    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)


def main() -> int:
    parser = build_parser()
    args = parser.parse_args()
    phases = chosen_phases(parser, args)
    record_setup(parser, args)
    stop_on_signals()
    info, runs, failed = run_all(args, phases)
    if runs:
        summary = summarise(runs)
        print_table(summary, runs, args)
        if args.json:
            write_json(args.json, info, args, summary, runs)
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "_fakes":  # the fakes' child process (bench/fakes.py)
        sys.exit(serve_fakes(sys.argv[2], as_is="--as-is" in sys.argv))
    sys.exit(main())
