"""Intake: signed-webhook requests/s vs GET /healthz requests/s of the same gunicorn, with NO worker running
(reply jobs just accumulate in Redis); same load generator, same connections for both; webhook latency too."""
from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from ..config import BUFFER_KEY, QUEUE_KEY, log
from ..cpu_meter import CpuMeter
from ..host import wait_quiet
from ..load import Generator
from ..services import flush_redis, inbound_count, redis_client
from ..signing import Signer
from ..stack import Stack
from ..stats import rps

SPREAD_TRIES = 3


def phase_intake(stack: Stack, gen: Generator, signer: Signer, args, run: int) -> dict:
    """/healthz then the webhook, back to back; repeated (up to --attempts) when outside load disturbed it."""
    best = None
    for attempt in range(1, args.attempts + 1):
        result = _intake_once(stack, gen, signer, args, f"r{run}a{attempt}")
        result["attempt"] = attempt
        worst = max(result["healthz"]["cpu_s"]["foreign_pct"], result["webhook"]["cpu_s"]["foreign_pct"])
        result["foreign_pct_max"] = worst
        if best is None or worst < best["foreign_pct_max"]:
            best = result
        if worst <= args.max_foreign:
            break
        log(f"    outside load took {worst}% of the CPU during the measurement; measuring again")
        wait_quiet(args.quiet_wait)
    return best


def spread_ok(cpu: dict, workers: int) -> bool:
    """False when one gunicorn worker did (nearly) all the work although several run: gthread keeps each
    keep-alive connection on the worker that accepted it, and sometimes one worker accepts all 8; /healthz then
    runs on one core and the ratio means nothing. The benchmark measures again in that case (and says so)."""
    return workers < 2 or not sum(cpu.get("gunicorn_per_process") or []) or busy_workers(cpu) >= 2


def busy_workers(cpu: dict) -> int:
    """How many gunicorn workers did at least a tenth of the work: the 8 keep-alive connections stay on the
    workers that accepted them, and a phase whose connections landed on 2 of the 4 workers leaves a core idle
    during each webhook's Redis round trip (docs/benchmarks.md, session 6)."""
    split = cpu.get("gunicorn_per_process") or []
    return len([x for x in split if x >= 0.1 * sum(split)])


def _metered(meter: CpuMeter, workers: int, what: str,
             prepare: Callable[[int], Callable[[], dict]]) -> tuple[dict, dict]:
    """Runs the measurement prepare(attempt) returns under the meter (the preparation itself unmetered), again
    while one gunicorn worker got every connection; returns (load result, CPU figures)."""
    for attempt in range(1, SPREAD_TRIES + 1):
        measure = prepare(attempt)
        meter.start()
        result = measure()
        cpu = meter.stop()
        if spread_ok(cpu, workers):
            break
        log(f"    all {what} keep-alive connections landed on one gunicorn worker; measuring again")
    cpu["spread_retries"] = attempt - 1
    return result, cpu


class _WebhookTrial:
    """The measured webhook load; a retry sends freshly signed requests (the first ones' MessageSids are
    stored already) to an emptied queue. Remembers the stored turns before the last try."""

    def __init__(self, gen: Generator, signer: Signer, args, signed: list[tuple[str, str]], tag: str):
        self.gen, self.signer, self.args, self.signed, self.tag = gen, signer, args, signed, tag
        self.inbound_before = 0

    def prepare(self, attempt: int) -> Callable[[], dict]:
        if attempt > 1:
            self.signed = self.signer.batch(len(self.signed), pool=1, users=self.args.users,
                                            tag=f"{self.tag}i{attempt}")
            flush_redis()
        self.inbound_before = inbound_count()
        return partial(self.gen.webhook, self.args.duration, self.signed)


def _intake_once(stack: Stack, gen: Generator, signer: Signer, args, tag: str) -> dict:
    flush_redis()
    meter = CpuMeter({"gunicorn": stack.web_pids})
    workers = int(stack.env.get("WEB_CONCURRENCY") or 2)
    gen.healthz(args.warmup)
    health, health_cpu = _metered(meter, workers, "/healthz", lambda _attempt: partial(gen.healthz, args.duration))
    health_rps = rps(health)
    # enough unique MessageSids for the warm-up and the run: /healthz's rate bounds the webhook's
    need = int(min(health_rps * (args.warmup + args.duration) * 1.3 + 2000, args.max_signed))
    t0 = time.perf_counter()
    signed = signer.batch(need, pool=1, users=args.users, tag=f"{tag}i")
    sign_s = time.perf_counter() - t0
    warm_n = int(min(health_rps * args.warmup * 1.3 + 1000, need // 3))
    gen.webhook(args.warmup, signed[:warm_n])
    flush_redis()  # the measured run starts with an empty queue too
    trial = _WebhookTrial(gen, signer, args, signed[warm_n:], tag)
    hook, hook_cpu = _metered(meter, workers, "webhook", trial.prepare)
    webhook = _webhook_figures(hook, hook_cpu, stored=inbound_count() - trial.inbound_before)
    return {"healthz": _healthz_figures(health, health_cpu), "webhook": webhook,
            "ratio": round(rps(hook) / max(health_rps, 1e-9), 3), "signing_s": round(sign_s, 2),
            "signed_prepared": need}


def _per_request_ms(cpu_s: float, result: dict) -> float:
    return round(1000 * cpu_s / max(result["requests"], 1), 3)


def _healthz_figures(health: dict, cpu: dict) -> dict:
    return {"rps": round(rps(health), 1), "p50_ms": health["latency_us"]["p50"] / 1000,
            "p99_ms": health["latency_us"]["p99"] / 1000, "errors": health["errors"],
            "requests": health["requests"], "cpu_s": cpu, "busy_workers": busy_workers(cpu),
            "gunicorn_cpu_ms_per_request": _per_request_ms(cpu["gunicorn"], health)}


def _webhook_figures(hook: dict, cpu: dict, stored: int) -> dict:
    latency = hook["latency_us"]
    return {"rps": round(rps(hook), 1), "p50_ms": latency["p50"] / 1000, "p90_ms": latency["p90"] / 1000,
            "p99_ms": latency["p99"] / 1000, "max_ms": latency["max"] / 1000, "errors": hook["errors"],
            "requests": hook["requests"], "duplicates_sent": hook.get("wrapped", 0), "turns_stored": stored,
            "jobs_queued": redis_client().llen(QUEUE_KEY), "turns_buffered": redis_client().llen(BUFFER_KEY),
            "cpu_s": cpu, "busy_workers": busy_workers(cpu),
            "gunicorn_cpu_ms_per_request": _per_request_ms(cpu["gunicorn"], hook),
            "postgres_cpu_ms_per_request": _per_request_ms(cpu["postgres"], hook)}
