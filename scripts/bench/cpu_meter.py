"""CPU seconds of groups of processes over a measurement, and of everything else on the machine."""
from __future__ import annotations

import os
from collections.abc import Callable

from .procs import machine_busy, own_cpu, pids_by_comm, postgres_pids, proc_cpu


class CpuMeter:
    """CPU seconds used by groups of processes between start() and stop(), and by everything else ("foreign":
    other users of this shared machine), so a measurement disturbed by outside load can be recognised.
    A process that exits in between is left out (its CPU then shows up as foreign, never as a negative)."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]):
        self.groups = groups  # name -> function returning the pids to sum
        self.groups.setdefault("postgres", postgres_pids)
        self.groups.setdefault("redis", pids_by_comm("redis-server"))

    def snapshot(self) -> dict:
        snap = {name: {p: proc_cpu(p) for p in pids()} for name, pids in self.groups.items()}
        snap["_own"] = own_cpu()
        snap["_busy"], snap["_total"] = machine_busy()
        return snap

    def start(self) -> None:
        self.before = self.snapshot()

    def stop(self) -> dict[str, float]:
        after = self.snapshot()
        out: dict = {}
        for name in self.groups:
            per = self._per_process(self.before[name], after[name])
            out[name] = round(sum(per.values()), 3)
            if name == "gunicorn":  # per process: shows how the keep-alive connections were spread
                out["gunicorn_per_process"] = sorted((round(x, 2) for x in per.values() if x > 0.05), reverse=True)
        out["generator+script"] = round(after["_own"] - self.before["_own"], 3)
        out.update(self._machine_share(after, sum(out[name] for name in self.groups) + out["generator+script"]))
        return out

    @staticmethod
    def _per_process(old: dict[int, float], new: dict[int, float]) -> dict[int, float]:
        return {p: cpu - old.get(p, 0.0) for p, cpu in new.items() if p in old or cpu > 0}

    def _machine_share(self, after: dict, ours: float) -> dict[str, float]:
        busy = after["_busy"] - self.before["_busy"]
        wall = (after["_total"] - self.before["_total"]) / (os.cpu_count() or 1)
        foreign = busy - ours  # other users of the machine, the kernel, processes gone meanwhile
        capacity = max(wall * (os.cpu_count() or 1), 1e-9)
        return {"machine_busy": round(busy, 3), "foreign": round(foreign, 3),
                "machine_util_pct": round(100 * busy / capacity, 1), "foreign_pct": round(100 * foreign / capacity, 1)}
