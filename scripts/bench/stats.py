"""Percentiles and rates of the measured requests."""
from __future__ import annotations

import statistics


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values; 0 for none."""
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, int(round(pct / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def latency_summary_us(latencies_s: list[float]) -> dict:
    values = sorted(x * 1e6 for x in latencies_s)
    return {"min": values[0] if values else 0, "mean": statistics.fmean(values) if values else 0,
            "max": values[-1] if values else 0, "p50": percentile(values, 50), "p90": percentile(values, 90),
            "p99": percentile(values, 99), "p999": percentile(values, 99.9)}


def rps(result: dict) -> float:
    """Requests per second of a load generator's result."""
    return result["requests"] / max(result["duration_us"] / 1e6, 1e-9)
