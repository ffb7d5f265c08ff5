"""The runs' medians against the targets: the printed table and the JSON file."""
from __future__ import annotations

import json
import statistics

TARGETS = {"intake_ratio": 0.50, "webhook_p99_ms": 50.0, "drain_rps": 100.0, "e2e_p50_ms": 100.0}

# summary name -> where each run's result holds it
SUMMARY_PATHS = {
    "healthz_rps": "intake.healthz.rps", "webhook_rps": "intake.webhook.rps", "intake_ratio": "intake.ratio",
    "webhook_p50_ms": "intake.webhook.p50_ms", "webhook_p99_ms": "intake.webhook.p99_ms",
    "healthz_p99_ms": "intake.healthz.p99_ms",
    "gunicorn_cpu_ms_per_request": "intake.webhook.gunicorn_cpu_ms_per_request",
    "postgres_cpu_ms_per_request": "intake.webhook.postgres_cpu_ms_per_request",
    "drain_rps": "drain.rps", "drain_rps_incl_startup": "drain.rps_incl_startup",
    "worker_cpu_ms_per_reply": "drain.worker_cpu_ms_per_reply",
    "postgres_cpu_ms_per_reply": "drain.postgres_cpu_ms_per_reply",
    "e2e_p50_ms": "e2e.p50_ms", "e2e_p99_ms": "e2e.p99_ms",
    "e2e_idle_p50_ms": "e2e_idle.p50_ms", "e2e_idle_p99_ms": "e2e_idle.p99_ms",
    "followup_second_p50_ms": "followup.second_p50_ms",
    "background_busy_pct": "background_busy_pct", "intake_foreign_pct": "intake.foreign_pct_max",
    "host_speed_ms": "host_speed_ms",
    "drain_foreign_pct": "drain.cpu_s.foreign_pct",
    "healthz_gunicorn_cpu_ms": "intake.healthz.gunicorn_cpu_ms_per_request",
}

# (label, summary name, target as shown, (TARGETS key, higher is better) or None)
TABLE = [
    ("/healthz req/s", "healthz_rps", "", None),
    ("webhook req/s (no worker)", "webhook_rps", "", None),
    ("intake / healthz", "intake_ratio", ">= 0.50", ("intake_ratio", True)),
    ("webhook p50 ms", "webhook_p50_ms", "", None),
    ("webhook p99 ms", "webhook_p99_ms", "< 50", ("webhook_p99_ms", False)),
    ("gunicorn CPU ms / webhook", "gunicorn_cpu_ms_per_request", "", None),
    ("postgres CPU ms / webhook", "postgres_cpu_ms_per_request", "", None),
    ("drain replies/s (1 worker)", "drain_rps", ">= 100", ("drain_rps", True)),
    ("  incl. worker start-up", "drain_rps_incl_startup", "", None),
    ("worker CPU ms / reply", "worker_cpu_ms_per_reply", "", None),
    ("postgres CPU ms / reply", "postgres_cpu_ms_per_reply", "", None),
    # the target is for idle workers (the serial rows); one message per 20 ms measures the backlog when the
    # offered 50/s comes near what one worker drains message by message
    ("webhook->Twilio p50 ms, 1 per 20 ms", "e2e_p50_ms", "", None),
    ("webhook->Twilio p99 ms, 1 per 20 ms", "e2e_p99_ms", "", None),
    ("  serial, idle worker p50", "e2e_idle_p50_ms", "< 100", ("e2e_p50_ms", False)),
    ("  serial, idle worker p99", "e2e_idle_p99_ms", "", None),
    ("follow-up webhook during LLM", "followup_second_p50_ms", "", None),
    ("gunicorn CPU ms / healthz", "healthz_gunicorn_cpu_ms", "", None),
    ("host speed: reference loop ms", "host_speed_ms", "", None),
    ("outside load: before run %", "background_busy_pct", "", None),
    ("  during intake %", "intake_foreign_pct", "", None),
    ("  during drain %", "drain_foreign_pct", "", None),
]


def value_at(run: dict, path: str):
    """The value at a dotted path of one run's result; None where the run has no such figure."""
    node = run
    for key in path.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    return node


def median_of(runs: list[dict], path: str) -> float | None:
    values = [v for v in (value_at(r, path) for r in runs) if isinstance(v, (int, float))]
    return round(statistics.median(values), 3) if values else None


def summarise(runs: list[dict]) -> dict:
    return {name: median_of(runs, path) for name, path in SUMMARY_PATHS.items()}


def verdict(value, target: tuple[str, bool] | None) -> str:
    if target is None:
        return ""
    if value is None:
        return "n/a"
    name, higher_is_better = target
    ok = value >= TARGETS[name] if higher_is_better else value < TARGETS[name]
    return "PASS" if ok else "MISS"


def per_run(runs: list[dict], path: str) -> str:
    return ", ".join("-" if v is None else f"{v:g}" for v in (value_at(r, path) for r in runs))


def print_table(summary: dict, runs: list[dict], args) -> None:
    n = len(runs)
    print(f"\ncode: {args.code}")
    print(f"bench_intake: {n} run(s), median shown; {args.connections} connections, {args.duration:g}s per "
          f"measurement, generator={args.generator_used}, WEB_CONCURRENCY={args.web_concurrency}, "
          f"WEB_THREADS={args.web_threads}, INTAKE_MODE={args.intake_mode}, "
          f"fakes={'as-is' if args.fakes_as_is else 'TCP_NODELAY'}")
    print(f"{'metric':<28} {'median':>9}  {'target':<8} {'':<5} runs")
    for label, name, target, verdict_of in TABLE:
        value = summary[name]
        shown = "-" if value is None else f"{value:g}"
        runs_shown = per_run(runs, SUMMARY_PATHS[name]) if n > 1 else ""
        print(f"{label:<28} {shown:>9}  {target:<8} {verdict(value, verdict_of):<5} {runs_shown}")


def write_json(path: str, info: dict, args, summary: dict, runs: list[dict]) -> None:
    """Every figure: the machine, the options (with what was derived from them), the medians, each run."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"machine": info, "args": dict(vars(args)), "summary": summary, "targets": TARGETS,
                   "runs": runs}, f, indent=2, ensure_ascii=False)
