"""Drain: --turns turns from as many distinct users are queued (no worker), then ONE `python -m bot.worker` is
started; replies/s = turns the fake Twilio received per second (first to last reply)."""
from __future__ import annotations

import time

from ..config import BUFFER_KEY, QUEUE_KEY
from ..cpu_meter import CpuMeter
from ..load import post_all
from ..services import flush_redis, pg_query, redis_client
from ..signing import Signer
from ..stack import Stack
from ..stats import rps
from .messaging import wait_messages


def phase_drain(stack: Stack, signer: Signer, args, run: int) -> dict:
    turns = args.turns
    fill = _fill_queue(stack, signer, args, run)
    base = stack.fakes_cmd("count")["messages"]
    meter = CpuMeter({"worker": stack.worker_pids, "fakes": lambda: [stack.fakes.proc.pid]})
    spawned = time.time()
    stack.start_worker()
    # CPU is metered from the first reply on (start-up, e.g. imports and training, excluded), like the rate
    first_seen = wait_messages(stack, base + 1, timeout=120, poll=0.01) - base
    meter.start()
    got = wait_messages(stack, base + turns, timeout=30 + turns / 10) - base
    cpu = meter.stop()  # measured while the worker still runs, so its CPU is counted
    times = sorted(r[0] for r in stack.fakes_cmd(f"since {base}"))
    processed = pg_query("SELECT count(*) FROM messages WHERE direction = 'inbound' AND status = 'processed'")[0][0]
    return {"turns": turns, **fill, "replies": got, "processed": processed,
            **_rates(got, times, spawned), "cpu_s": cpu,
            "worker_cpu_ms_per_reply": round(1000 * cpu["worker"] / max(got - first_seen, 1), 3),
            "postgres_cpu_ms_per_reply": round(1000 * cpu["postgres"] / max(got - first_seen, 1), 3)}


def _fill_queue(stack: Stack, signer: Signer, args, run: int) -> dict:
    """Posts one turn per distinct user with no worker running; what the intake left queued or buffered."""
    flush_redis()
    signed = signer.batch(args.turns, pool=3, users=args.turns, tag=f"r{run}d")
    fill = post_all(stack, signed, args.connections, timeout=120)
    return {"fill_rps": round(rps(fill), 1), "fill_errors": fill["errors"],
            "jobs_queued": redis_client().llen(QUEUE_KEY), "turns_buffered": redis_client().llen(BUFFER_KEY)}


def _rates(got: int, times: list[float], spawned: float) -> dict:
    """Replies/s from the first to the last reply, and from the worker's start; start-up and drain seconds."""
    first, last = (times[0], times[-1]) if times else (spawned, spawned)
    return {"rps": round((got - 1) / (last - first), 1) if got > 1 and last > first else 0.0,
            "rps_incl_startup": round(got / (last - spawned), 1) if got and last > spawned else 0.0,
            "startup_s": round(first - spawned, 2), "drain_s": round(last - first, 2)}
