"""This machine: one benchmark at a time (a lock), how busy others keep it, how fast it runs Python today,
and what it is (for the report)."""
from __future__ import annotations

import contextlib
import fcntl
import os
import platform
import shutil
import subprocess
import time
from importlib.metadata import version

from .config import LOCK_PATH, log
from .procs import machine_busy
from .services import pg_version, redis_client

PACKAGES = ("gunicorn", "flask", "sqlalchemy", "rq", "redis", "twilio", "psycopg2")
DISTRIBUTIONS = {"psycopg2": "psycopg2-binary"}  # a package whose distribution is named otherwise


def acquire_lock(timeout: float) -> int:
    """Waits (bounded) until no other bench_intake / bench_profile runs. Returns the lock's file descriptor:
    the lock lasts until release_lock(fd) or the end of the process."""
    fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise SystemExit(f"another benchmark holds {LOCK_PATH}; gave up after {timeout:.0f}s") from None
            time.sleep(1.0)


def release_lock(fd: int) -> None:
    os.close(fd)


def wait_quiet(limit: float, threshold_pct: float = 10.0) -> float:
    """Waits (bounded) until the machine is idle apart from us; returns the last 2-second busy percentage."""
    deadline = time.monotonic() + limit
    while True:
        busy0, total0 = machine_busy()
        time.sleep(2.0)
        busy1, total1 = machine_busy()
        pct = round(100 * (busy1 - busy0) / max(total1 - total0, 1e-9), 1)
        if pct <= threshold_pct:
            return pct
        if time.monotonic() > deadline:
            log(f"warning: the machine is {pct}% busy with other work; figures will be lower")
            return pct
        log(f"  machine {pct}% busy with other work; waiting")


def host_speed_ms() -> float:
    """CPU milliseconds of a fixed pure-Python loop (best of three): how fast this host runs Python right now.
    The same code measured 7.2 and 13.6 ms of worker CPU per reply on one afternoon; figures taken at
    different host speeds compare only through this (or through a same-hour run of another commit)."""
    best = float("inf")
    for _ in range(3):
        start, total = time.process_time(), 0
        for i in range(2_000_000):
            total += i * i
        best = min(best, time.process_time() - start)
    return round(1000 * best, 1)


def _first_line_value(path: str, prefix: str) -> str | None:
    """What follows the first `prefix` line of a /proc file (e.g. "model name\t: Intel ...")."""
    with open(path) as f:
        return next((line.split(":", 1)[1].strip() for line in f if line.startswith(prefix)), None)


def machine_info() -> dict:
    cpu = _first_line_value("/proc/cpuinfo", "model name") or "?"
    mem = _first_line_value("/proc/meminfo", "MemTotal")
    info = {"cores": os.cpu_count(), "cpu": cpu, "ram_gib": round((int(mem.split()[0]) if mem else 0) / 2**20, 1),
            "python": platform.python_version(), "kernel": platform.release()}
    info.update(_service_versions())
    info.update(_package_versions())
    if shutil.which("wrk"):
        info["wrk"] = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0][:40]
    return info


def _service_versions() -> dict[str, str]:
    out = {}
    try:
        out["postgresql"] = pg_version()
        out["redis"] = redis_client().info("server")["redis_version"]
    except Exception as exc:  # the report says why instead of failing the benchmark
        out["versions_error"] = str(exc)
    return out


def _package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        with contextlib.suppress(Exception):  # a package that is not installed is left out
            out[name if name != "redis" else "redis-py"] = version(DISTRIBUTIONS.get(name, name))
    return out
