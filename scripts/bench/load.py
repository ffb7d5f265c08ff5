"""Load generation against the stack's gunicorn: wrk with scripts/bench_wrk.lua (pre-signed requests, a unique
MessageSid each), or the asyncio fallback. Both return {"requests", "duration_us", "errors", "latency_us", ...}."""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess

from .config import LUA, WEBHOOK_PATH
from .procs import stop_group
from .pyload import PyLoad
from .signing import raw_get, raw_post
from .stack import Stack


def run_wrk(stack: Stack, conns: int, threads: int, duration: float, file: str | None, path: str) -> dict:
    seconds = max(1, int(-(-duration // 1)))  # wrk takes whole seconds
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s", "-s", LUA,
           stack.public, "--", file or "-", path, str(threads)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    stack.procs.append(proc)  # so that Ctrl-C during the measurement stops it too
    try:
        out, err = proc.communicate(timeout=seconds + 60)
    finally:
        stop_group(proc)
        stack.procs.remove(proc)
    line = next((line for line in out.splitlines() if line.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out[-500:]} {err[-500:]}")
    return json.loads(line[len("BENCH_JSON "):])


def run_py(stack: Stack, conns: int, duration: float, requests: list[bytes] | None, path: str,
           max_count: int | None = None) -> dict:
    host = f"127.0.0.1:{stack.port}"
    get = raw_get(host, path) if requests is None else None
    return asyncio.run(PyLoad("127.0.0.1", stack.port, requests, get, duration, max_count).run(conns))


def post_all(stack: Stack, signed: list[tuple[str, str]], conns: int, timeout: float) -> dict:
    """Every signed webhook once, over conns connections (bounded by timeout seconds)."""
    host = f"127.0.0.1:{stack.port}"
    raw = [raw_post(host, s, b) for s, b in signed]
    return run_py(stack, conns, timeout, raw, WEBHOOK_PATH, max_count=len(raw))


class Generator:
    """The chosen load generator ("wrk" or "python") with the run's connections and threads."""

    def __init__(self, stack: Stack, kind: str, conns: int, threads: int, workdir: str):
        self.stack, self.kind, self.conns, self.threads, self.workdir = stack, kind, conns, threads, workdir

    def healthz(self, duration: float) -> dict:
        if self.kind == "wrk":
            return run_wrk(self.stack, self.conns, self.threads, duration, None, "/healthz")
        return run_py(self.stack, self.conns, duration, None, "/healthz")

    def webhook(self, duration: float, signed: list[tuple[str, str]]) -> dict:
        if self.kind == "wrk":
            return self._wrk_webhook(duration, signed)
        host = f"127.0.0.1:{self.stack.port}"
        return run_py(self.stack, self.conns, duration, [raw_post(host, s, b) for s, b in signed], WEBHOOK_PATH)

    def _wrk_webhook(self, duration: float, signed: list[tuple[str, str]]) -> dict:
        path = os.path.join(self.workdir, f"signed-{secrets.token_hex(4)}.tsv")
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(f"{sig}\t{body}\n" for sig, body in signed)
        try:
            return run_wrk(self.stack, self.conns, self.threads, duration, path, WEBHOOK_PATH)
        finally:
            os.unlink(path)
