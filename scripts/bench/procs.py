"""Processes on this machine, read from /proc: CPU seconds, process trees and groups; stopping a group."""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import time
from collections.abc import Callable

from .config import DB_NAME


def clk_tck() -> int:
    return os.sysconf("SC_CLK_TCK")


def _stat_after_comm(pid: int | str) -> list[str]:
    """The fields of /proc/PID/stat after `(comm)`: state, ppid, pgrp, ... (comm itself may hold spaces)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def proc_cpu(pid: int) -> float:
    """CPU seconds (user+system) of one process; 0 when it is gone."""
    try:
        fields = _stat_after_comm(pid)
        return (int(fields[11]) + int(fields[12])) / clk_tck()
    except (OSError, IndexError, ValueError):
        return 0.0


def _pid_names() -> list[str]:
    return [name for name in os.listdir("/proc") if name.isdigit()]


def all_procs() -> list[tuple[int, int, str]]:
    """(pid, ppid, comm) of every process (read-only look at /proc, for CPU accounting)."""
    out = []
    for name in _pid_names():
        try:
            with open(f"/proc/{name}/stat") as f:
                raw = f.read()
            comm = raw[raw.index("(") + 1:raw.rindex(")")]
            ppid = int(raw.rsplit(")", 1)[1].split()[1])
            out.append((int(name), ppid, comm))
        except (OSError, ValueError, IndexError):
            pass
    return out


def group_members(pgid: int) -> list[int]:
    """Live processes of process group pgid (zombies excluded)."""
    out = []
    for name in _pid_names():
        try:
            fields = _stat_after_comm(name)
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.append(int(name))
        except (OSError, ValueError, IndexError):
            pass
    return out


def descendants(root: int) -> list[int]:
    procs = all_procs()
    found, frontier = [root], [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid, _ in procs:
            if ppid == parent and pid not in found:
                found.append(pid)
                frontier.append(pid)
    return found


def pids_by_comm(*names: str) -> Callable[[], list[int]]:
    return lambda: [pid for pid, _, comm in all_procs() if comm in names]


def _cmdline(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None


def postgres_pids() -> list[int]:
    """The server's background processes plus the backends connected to our database (not other users')."""
    out = []
    for pid, _, comm in all_procs():
        cmd = _cmdline(pid) if comm == "postgres" else None
        if cmd is None:
            continue
        is_backend = "(" in cmd or "[local]" in cmd
        if not is_backend or f" {DB_NAME} " in cmd:
            out.append(pid)
    return out


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / clk_tck(), total / clk_tck()


def own_cpu() -> float:
    """CPU seconds of this script and of its children already waited for (wrk, the release command)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _gone(proc: subprocess.Popen) -> bool:
    return proc.poll() is not None and not group_members(proc.pid)


def _wait_gone(proc: subprocess.Popen, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _gone(proc):
            return True
        time.sleep(0.1)
    return False


def stop_group(proc: subprocess.Popen) -> None:
    """Stops the process group created for proc (start_new_session): SIGTERM, then SIGKILL for whatever of the
    group is still there after 10 s (e.g. gunicorn workers outliving `sh -c`)."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        if _gone(proc):
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        if _wait_gone(proc, wait):
            return
