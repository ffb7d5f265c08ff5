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
each). Install it with `apt-get install -y wrk`; without it a lean asyncio generator in this file is used
(raw pre-built requests over keep-alive connections; it costs more CPU, so ratios are less favourable).

Everything targets 127.0.0.1; every loop is bounded in count and time. The script creates and drops the
PostgreSQL database `bench_intake`, uses only Redis db 13 (flushed before each phase and at the end), and stops
every process it started (process groups it created), also on Ctrl-C or an error.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(PROJECT, ".venv", "bin")
LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_wrk.lua")
# What runs: the working tree by default, or a `git archive` snapshot of --ref (see use_snapshot). The fakes are
# copied once per invocation, so an edit to tests/fakes.py during a run cannot change the run.
SRC = PROJECT
FAKES = os.path.join(PROJECT, "tests", "fakes.py")
PG_ADMIN = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
# A name of our own per invocation: a fixed name could be dropped or reused by another run on this shared server.
DB_NAME = f"bench_intake_{os.getpid()}"
LOCK_PATH = "/tmp/bench_intake.lock"  # one benchmark at a time: they share Redis db 13 and the CPUs
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "13"))  # scripts/bench_profile.py also uses 13: not both at once
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
BOT_NUMBER = "whatsapp:+14155238886"
WEBHOOK_PATH = "/webhooks/twilio/messages"
QUEUE_KEY = "rq:queue:replies"
BUFFER_KEY = "bot:intake"  # INTAKE_MODE=buffered (the default): turns wait here until a worker stores them
TARGETS = {"intake_ratio": 0.50, "webhook_p99_ms": 50.0, "drain_rps": 100.0, "e2e_p50_ms": 100.0}

TEXTS = ["When does the festival start tonight?", "كم سعر التذكرة للحفلة؟",
         "Where is the venue for Thursday's concert?", "هل يوجد موقف سيارات قريب من المسرح؟",
         "Can I pay in rials at the door?", "ابغى اعرف مواعيد الفعاليات هذا الأسبوع",
         "Is there a discount for students?", "شكراً جزيلاً"]


def log(*parts) -> None:
    print(*parts, file=sys.stderr, flush=True)


def load_fakes():
    spec = importlib.util.spec_from_file_location("bench_fakes", FAKES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------------------
# The fakes' child process: `bench_intake.py _fakes` starts FakeTwilio(callbacks="none") and FakeOpenAI and
# answers one-line commands on stdin, so the fakes' threads never share a GIL with the measuring code.
# ---------------------------------------------------------------------------------------------------------
def serve_fakes(as_is: bool = False) -> int:
    fakes = load_fakes()
    if not as_is:
        # tests/fakes.py writes the response head and body in two send()s without TCP_NODELAY, so every call
        # waits ~40 ms for the client's delayed ACK (Nagle). Set here, in this process only, so the fakes are
        # as instant as the benchmark needs; --fakes-as-is keeps the stall to show its effect.
        fakes._Handler.disable_nagle_algorithm = True
    twilio, openai = fakes.FakeTwilio(callbacks="none").start(), fakes.FakeOpenAI().start()
    print(json.dumps({"twilio": twilio.port, "openai": openai.port}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        with twilio.lock:
            if cmd[0] == "count":
                out = {"messages": len(twilio.messages), "attempts": len(twilio.attempts)}
            elif cmd[0] == "llm-delay":  # seconds every fake LLM answer takes from now on
                openai.delay = float(cmd[1])
                out = {"llm_delay": openai.delay}
            elif cmd[0] == "since":  # the records from index N on: [t, to, body]
                out = [[m["t"], m["to"], m["body"]] for m in twilio.messages[int(cmd[1]):]]
            else:
                out = {"error": f"unknown command {cmd[0]}"}
        if cmd[0] == "count":
            with openai.lock:
                out["llm_requests"] = len(openai.requests)
        print(json.dumps(out), flush=True)
    twilio.stop()
    openai.stop()
    return 0


# ---------------------------------------------------------------------------------------------------------
# Processes, database, Redis
# ---------------------------------------------------------------------------------------------------------
def use_snapshot(ref: str | None, workdir: str) -> dict:
    """Points SRC at a `git archive` of ref (None: the working tree as it is) and copies the fakes."""
    global SRC, FAKES
    git = lambda *a: subprocess.run(["git", "-C", PROJECT, *a], capture_output=True, text=True).stdout.strip()  # noqa: E731
    FAKES = os.path.join(workdir, "fakes.py")
    shutil.copyfile(os.path.join(PROJECT, "tests", "fakes.py"), FAKES)
    if not ref:
        SRC = PROJECT
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", "bot", "models", "app.py",
                    "gunicorn.conf.py", "Procfile")
        return {"source": "working tree", "head": git("rev-parse", "--short", "HEAD"), "dirty": bool(dirty)}
    SRC = os.path.join(workdir, "src")
    os.makedirs(SRC, exist_ok=True)
    archive = subprocess.Popen(["git", "-C", PROJECT, "archive", "--format=tar", ref], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", SRC], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise RuntimeError(f"git archive {ref} failed")
    if os.path.exists(os.path.join(SRC, "tests", "fakes.py")):  # the fakes of that commit, when it has them
        shutil.copyfile(os.path.join(SRC, "tests", "fakes.py"), FAKES)
    return {"source": f"git archive {ref}", "commit": git("rev-parse", "--short", ref)}


def acquire_lock(timeout: float):
    """Waits (bounded) until no other bench_intake / bench_profile runs; the lock ends with the process."""
    import fcntl
    handle = open(LOCK_PATH, "a+")
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise SystemExit(f"another benchmark holds {LOCK_PATH}; gave up after {timeout:.0f}s")
            time.sleep(1.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile() -> dict[str, str]:
    entries = {}
    with open(os.path.join(SRC, "Procfile"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and ":" in line:
                name, cmd = line.split(":", 1)
                entries[name.strip()] = cmd.strip()
    return entries


def pg_admin(sql: str) -> None:
    import psycopg2
    conn = psycopg2.connect(PG_ADMIN + "/postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def pg_query(sql: str):
    import psycopg2
    conn = psycopg2.connect(f"{PG_ADMIN}/{DB_NAME}")
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def redis_client():
    import redis
    return redis.Redis.from_url(REDIS_URL)


def flush_redis() -> None:
    redis_client().flushdb()  # db 13 only


def clk_tck() -> int:
    return os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """CPU seconds (user+system) of one process; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / clk_tck()
    except (OSError, IndexError, ValueError):
        return 0.0


def all_procs() -> list[tuple[int, int, str]]:
    """(pid, ppid, comm) of every process (read-only look at /proc, for CPU accounting)."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
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
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
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


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / clk_tck(), total / clk_tck()


def own_cpu() -> float:
    """CPU seconds of this script and of its children already waited for (wrk, the release command)."""
    import resource
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class CpuMeter:
    """CPU seconds used by groups of processes between start() and stop(), and by everything else ("foreign":
    other users of this shared machine), so a measurement disturbed by outside load can be recognised.
    A process that exits in between is left out (its CPU then shows up as foreign, never as a negative)."""

    def __init__(self, groups: dict[str, callable]):
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
            old, new = self.before[name], after[name]
            per = {p: cpu - old.get(p, 0.0) for p, cpu in new.items() if p in old or cpu > 0}
            out[name] = round(sum(per.values()), 3)
            if name == "gunicorn":  # per process: shows how the keep-alive connections were spread
                out["gunicorn_per_process"] = sorted((round(x, 2) for x in per.values() if x > 0.05), reverse=True)
        out["generator+script"] = round(after["_own"] - self.before["_own"], 3)
        busy = after["_busy"] - self.before["_busy"]
        wall = (after["_total"] - self.before["_total"]) / (os.cpu_count() or 1)
        ours = sum(out[name] for name in self.groups) + out["generator+script"]
        foreign = busy - ours  # other users of the machine, the kernel, processes gone meanwhile
        capacity = max(wall * (os.cpu_count() or 1), 1e-9)
        out["machine_busy"] = round(busy, 3)
        out["foreign"] = round(foreign, 3)
        out["machine_util_pct"] = round(100 * busy / capacity, 1)
        out["foreign_pct"] = round(100 * foreign / capacity, 1)
        return out


def pids_by_comm(*names: str):
    return lambda: [pid for pid, _, comm in all_procs() if comm in names]


def postgres_pids() -> list[int]:
    """The server's background processes plus the backends connected to our database (not other users')."""
    out = []
    for pid, _, comm in all_procs():
        if comm != "postgres":
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        is_backend = "(" in cmd or "[local]" in cmd
        if not is_backend or f" {DB_NAME} " in cmd:
            out.append(pid)
    return out


class Stack:
    """Fakes + database + gunicorn (+ the worker on demand), all started like the Procfile does."""

    def __init__(self, workdir: str, web_env: dict[str, str], fakes_as_is: bool = False):
        self.fakes_as_is = fakes_as_is
        self.workdir = workdir
        self.web_env = web_env
        self.procs: list[subprocess.Popen] = []
        self.fakes: subprocess.Popen | None = None
        self.web: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.db_created = False

    def _spawn(self, cmd, logname: str, shell: bool = False, **kw) -> subprocess.Popen:
        out = open(os.path.join(self.workdir, logname), "ab")
        proc = subprocess.Popen(cmd, cwd=SRC, env=kw.pop("env", self.env), stdout=kw.pop("stdout", out),
                                stderr=out, start_new_session=True, shell=shell, **kw)
        out.close()
        self.procs.append(proc)
        return proc

    def start(self) -> None:
        base = dict(os.environ)
        base["PATH"] = VENV_BIN + os.pathsep + base.get("PATH", "")
        base.pop("PYTHONPATH", None)
        base["PYTHONUNBUFFERED"] = "1"
        self.env = base
        self.fakes = self._spawn([os.path.join(VENV_BIN, "python"), os.path.abspath(__file__), "_fakes", FAKES]
                                 + (["--as-is"] if self.fakes_as_is else []),
                                 "fakes.log", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        ports = json.loads(self._fakes_readline(timeout=20))
        fakes = load_fakes()
        self.account_sid, self.auth_token = fakes.ACCOUNT_SID, fakes.AUTH_TOKEN
        self.port = free_port()
        self.public = f"http://127.0.0.1:{self.port}"
        pg_admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        pg_admin(f"CREATE DATABASE {DB_NAME}")
        self.db_created = True
        flush_redis()
        self.env = dict(base, DATABASE_URL=f"{PG_ADMIN}/{DB_NAME}", REDIS_URL=REDIS_URL,
                        TWILIO_ACCOUNT_SID=self.account_sid, TWILIO_AUTH_TOKEN=self.auth_token,
                        TWILIO_WHATSAPP_NUMBER=BOT_NUMBER, TWILIO_API_BASE_URL=f"http://127.0.0.1:{ports['twilio']}",
                        PUBLIC_BASE_URL=self.public, OPENAI_API_KEY="sk-bench",
                        OPENAI_BASE_URL=f"http://127.0.0.1:{ports['openai']}/v1", OPENAI_MODEL="gpt-4o-mini",
                        SECRET_KEY="x", LOG_LEVEL="WARNING", PORT=str(self.port), **self.web_env)
        entries = procfile()
        release = subprocess.run(entries["release"], shell=True, cwd=SRC, env=self.env, capture_output=True,
                                 text=True, timeout=120)
        if release.returncode:
            raise RuntimeError(f"release failed: {release.stderr[-800:]}")
        self.web = self._spawn(entries["web"], "web.log", shell=True)
        self._wait_healthy(timeout=30)

    def _fakes_readline(self, timeout: float) -> str:
        import select
        ready, _, _ = select.select([self.fakes.stdout], [], [], timeout)
        if not ready:
            raise RuntimeError("the fakes process did not answer")
        line = self.fakes.stdout.readline().decode()
        if not line:
            raise RuntimeError(f"the fakes process exited; see {self.workdir}/fakes.log")
        return line

    def fakes_cmd(self, cmd: str):
        self.fakes.stdin.write((cmd + "\n").encode())
        self.fakes.stdin.flush()
        return json.loads(self._fakes_readline(timeout=30))

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.web.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.web.returncode}); see {self.workdir}/web.log")
            try:
                with urllib.request.urlopen(self.public + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not become healthy in {timeout}s; see {self.workdir}/web.log")

    def web_pids(self) -> list[int]:
        return descendants(self.web.pid) if self.web else []

    def start_worker(self) -> subprocess.Popen:
        self.worker = self._spawn(procfile()["worker"], "worker.log", shell=True)
        return self.worker

    def worker_pids(self) -> list[int]:
        return descendants(self.worker.pid) if self.worker and self.worker.poll() is None else []

    def stop_proc(self, proc: subprocess.Popen | None) -> None:
        """Stops the process group this script created for proc (start_new_session): SIGTERM, then SIGKILL
        for whatever of the group is still there after 10 s (e.g. gunicorn workers outliving `sh -c`)."""
        if proc is None:
            return
        if proc is self.fakes and proc.poll() is None:
            try:
                proc.stdin.write(b"quit\n")
                proc.stdin.flush()
                proc.wait(timeout=3)
            except (OSError, subprocess.TimeoutExpired):
                pass
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            if proc.poll() is not None and not group_members(proc.pid):
                return
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if proc.poll() is not None and not group_members(proc.pid):
                    return
                time.sleep(0.1)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            try:
                self.stop_proc(proc)
            except Exception as exc:  # noqa: BLE001 - keep stopping the others
                log(f"stopping pid {proc.pid}: {exc}")
        if self.db_created:
            try:
                pg_admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
            except Exception as exc:  # noqa: BLE001
                log(f"dropping {DB_NAME}: {exc}")
        try:
            flush_redis()
        except Exception as exc:  # noqa: BLE001
            log(f"flushing redis db {REDIS_DB}: {exc}")


# ---------------------------------------------------------------------------------------------------------
# Signed requests
# ---------------------------------------------------------------------------------------------------------
def phone(pool: int, i: int) -> str:
    """Distinct Yemeni mobile numbers: +967 7<pool><7 digits>."""
    return f"+9677{pool}{i:07d}"


def inbound_params(account_sid: str, number: str, body: str, profile: str) -> dict[str, str]:
    sid = "SM" + secrets.token_hex(16)
    return {"SmsMessageSid": sid, "NumMedia": "0", "ProfileName": profile, "MessageType": "text", "SmsSid": sid,
            "WaId": number.lstrip("+"), "SmsStatus": "received", "Body": body, "To": BOT_NUMBER,
            "NumSegments": "1", "ReferralNumMedia": "0", "MessageSid": sid, "AccountSid": account_sid,
            "From": f"whatsapp:{number}", "ApiVersion": "2010-04-01"}


class Signer:
    def __init__(self, stack: Stack):
        from twilio.request_validator import RequestValidator
        self.validator = RequestValidator(stack.auth_token)
        self.url = stack.public + WEBHOOK_PATH
        self.stack = stack

    def signed(self, number: str, body: str, profile: str) -> tuple[str, str]:
        params = inbound_params(self.stack.account_sid, number, body, profile)
        return self.validator.compute_signature(self.url, params), urllib.parse.urlencode(params)

    def batch(self, count: int, pool: int, users: int, tag: str) -> list[tuple[str, str]]:
        return [self.signed(phone(pool, i % users), f"{TEXTS[i % len(TEXTS)]} {tag}{i}", f"Attendee {i % users}")
                for i in range(count)]


def raw_post(host: str, signature: str, body: str) -> bytes:
    data = body.encode()
    return (f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: TwilioProxy/1.1\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: {signature}\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


def raw_get(host: str, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


# ---------------------------------------------------------------------------------------------------------
# Load generators: both return {"requests", "duration_us", "errors": {...}, "latency_us": {...}, ...}
# ---------------------------------------------------------------------------------------------------------
def percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, int(round(pct / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def latency_summary_us(latencies_s: list[float]) -> dict:
    values = sorted(x * 1e6 for x in latencies_s)
    return {"min": values[0] if values else 0, "mean": statistics.fmean(values) if values else 0,
            "max": values[-1] if values else 0, "p50": percentile(values, 50), "p90": percentile(values, 90),
            "p99": percentile(values, 99), "p999": percentile(values, 99.9)}


def run_wrk(stack: Stack, conns: int, threads: int, duration: float, file: str | None, path: str) -> dict:
    seconds = max(1, int(-(-duration // 1)))  # wrk takes whole seconds
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s", "-s", LUA,
           stack.public, "--", file or "-", path, str(threads)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    stack.procs.append(proc)
    try:
        out, err = proc.communicate(timeout=seconds + 60)
    finally:
        stack.stop_proc(proc)
        stack.procs.remove(proc)
    line = next((l for l in out.splitlines() if l.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out[-500:]} {err[-500:]}")
    return json.loads(line[len("BENCH_JSON "):])


async def _py_load(host: str, port: int, conns: int, requests: list[bytes] | None, get: bytes | None,
                   duration: float, max_count: int | None) -> dict:
    latencies: list[float] = []
    errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    state = {"next": 0, "wrapped": 0}
    deadline = time.perf_counter() + duration

    def next_request() -> bytes | None:
        if get is not None:
            if max_count is not None and state["next"] >= max_count:
                return None
            state["next"] += 1
            return get
        i = state["next"]
        if max_count is not None and i >= max_count:
            return None
        state["next"] += 1
        if i >= len(requests):
            state["wrapped"] += 1
            i %= len(requests)
        return requests[i]

    async def connection() -> None:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            errors["connect"] += 1
            return
        try:
            while time.perf_counter() < deadline:
                raw = next_request()
                if raw is None:
                    return
                started = time.perf_counter()
                writer.write(raw)
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                except asyncio.TimeoutError:
                    errors["timeout"] += 1
                    return
                except (asyncio.IncompleteReadError, OSError):
                    errors["read"] += 1
                    return
                match = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
                if match:
                    await reader.readexactly(int(match.group(1)))
                latencies.append(time.perf_counter() - started)
                if not head.startswith((b"HTTP/1.1 2", b"HTTP/1.0 2")):
                    errors["status"] += 1
                if re.search(rb"\r\nconnection:\s*close", head, re.I):
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(conns)))
    elapsed = time.perf_counter() - started
    return {"requests": len(latencies), "duration_us": int(elapsed * 1e6), "errors": errors,
            "latency_us": latency_summary_us(latencies), "wrapped": state["wrapped"], "issued": state["next"]}


def run_py(stack: Stack, conns: int, duration: float, requests: list[bytes] | None, path: str,
           max_count: int | None = None) -> dict:
    host = f"127.0.0.1:{stack.port}"
    get = raw_get(host, path) if requests is None else None
    return asyncio.run(_py_load("127.0.0.1", stack.port, conns, requests, get, duration, max_count))


class Generator:
    def __init__(self, stack: Stack, kind: str, conns: int, threads: int, workdir: str):
        self.stack, self.kind, self.conns, self.threads, self.workdir = stack, kind, conns, threads, workdir

    def healthz(self, duration: float) -> dict:
        if self.kind == "wrk":
            return run_wrk(self.stack, self.conns, self.threads, duration, None, "/healthz")
        return run_py(self.stack, self.conns, duration, None, "/healthz")

    def webhook(self, duration: float, signed: list[tuple[str, str]]) -> dict:
        if self.kind == "wrk":
            path = os.path.join(self.workdir, f"signed-{secrets.token_hex(4)}.tsv")
            with open(path, "w", encoding="utf-8") as f:
                f.writelines(f"{sig}\t{body}\n" for sig, body in signed)
            try:
                return run_wrk(self.stack, self.conns, self.threads, duration, path, WEBHOOK_PATH)
            finally:
                os.unlink(path)
        host = f"127.0.0.1:{self.stack.port}"
        return run_py(self.stack, self.conns, duration, [raw_post(host, s, b) for s, b in signed], WEBHOOK_PATH)


def rps(result: dict) -> float:
    return result["requests"] / max(result["duration_us"] / 1e6, 1e-9)


# ---------------------------------------------------------------------------------------------------------
# Phases
# ---------------------------------------------------------------------------------------------------------
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


def _intake_once(stack: Stack, gen: Generator, signer: Signer, args, tag: str) -> dict:
    flush_redis()
    meter = CpuMeter({"gunicorn": stack.web_pids})
    workers = int(stack.env.get("WEB_CONCURRENCY") or 2)
    gen.healthz(args.warmup)
    for tries in range(1, 4):
        meter.start()
        health = gen.healthz(args.duration)
        health_cpu = meter.stop()
        if spread_ok(health_cpu, workers):
            break
        log("    all /healthz keep-alive connections landed on one gunicorn worker; measuring again")
    health_cpu["spread_retries"] = tries - 1
    health_rps = rps(health)
    # enough unique MessageSids for the warm-up and the run: /healthz's rate bounds the webhook's
    need = int(min(health_rps * (args.warmup + args.duration) * 1.3 + 2000, args.max_signed))
    t0 = time.perf_counter()
    signed = signer.batch(need, pool=1, users=args.users, tag=f"{tag}i")
    sign_s = time.perf_counter() - t0
    warm_n = int(min(health_rps * args.warmup * 1.3 + 1000, need // 3))
    gen.webhook(args.warmup, signed[:warm_n])
    flush_redis()  # the measured run starts with an empty queue too
    for tries in range(1, 4):
        if tries > 1:
            signed = [None] * warm_n + signer.batch(need - warm_n, pool=1, users=args.users, tag=f"{tag}i{tries}")
            flush_redis()
        before_msgs = pg_query("SELECT count(*) FROM messages WHERE direction = 'inbound'")[0][0]
        meter.start()
        hook = gen.webhook(args.duration, signed[warm_n:])
        hook_cpu = meter.stop()
        if spread_ok(hook_cpu, workers):
            break
        log("    all webhook keep-alive connections landed on one gunicorn worker; measuring again")
    hook_cpu["spread_retries"] = tries - 1
    stored = pg_query("SELECT count(*) FROM messages WHERE direction = 'inbound'")[0][0] - before_msgs
    queued = redis_client().llen(QUEUE_KEY)
    buffered = redis_client().llen(BUFFER_KEY)
    hook_rps = rps(hook)
    return {
        "healthz": {"rps": round(health_rps, 1), "p50_ms": health["latency_us"]["p50"] / 1000,
                    "p99_ms": health["latency_us"]["p99"] / 1000, "errors": health["errors"],
                    "requests": health["requests"], "cpu_s": health_cpu,
                    "busy_workers": busy_workers(health_cpu),
                    "gunicorn_cpu_ms_per_request": round(1000 * health_cpu["gunicorn"] / max(health["requests"], 1), 3)},
        "webhook": {"rps": round(hook_rps, 1), "p50_ms": hook["latency_us"]["p50"] / 1000,
                    "p90_ms": hook["latency_us"]["p90"] / 1000, "p99_ms": hook["latency_us"]["p99"] / 1000,
                    "max_ms": hook["latency_us"]["max"] / 1000, "errors": hook["errors"],
                    "requests": hook["requests"], "duplicates_sent": hook.get("wrapped", 0),
                    "turns_stored": stored, "jobs_queued": queued, "turns_buffered": buffered,
                    "cpu_s": hook_cpu, "busy_workers": busy_workers(hook_cpu),
                    "gunicorn_cpu_ms_per_request": round(1000 * hook_cpu["gunicorn"] / max(hook["requests"], 1), 3),
                    "postgres_cpu_ms_per_request": round(1000 * hook_cpu["postgres"] / max(hook["requests"], 1), 3)},
        "ratio": round(hook_rps / max(health_rps, 1e-9), 3),
        "signing_s": round(sign_s, 2), "signed_prepared": need,
    }


def post_all(stack: Stack, signed: list[tuple[str, str]], conns: int, timeout: float) -> dict:
    host = f"127.0.0.1:{stack.port}"
    raw = [raw_post(host, s, b) for s, b in signed]
    return run_py(stack, conns, timeout, raw, WEBHOOK_PATH, max_count=len(raw))


def wait_messages(stack: Stack, target: int, timeout: float, poll: float = 0.05) -> int:
    deadline = time.monotonic() + timeout
    got = 0
    while time.monotonic() < deadline:
        got = stack.fakes_cmd("count")["messages"]
        if got >= target:
            return got
        if stack.worker is not None and stack.worker.poll() is not None:
            raise RuntimeError(f"the worker exited ({stack.worker.returncode}); see {stack.workdir}/worker.log")
        time.sleep(poll)
    return got


def phase_drain(stack: Stack, signer: Signer, args, run: int) -> dict:
    flush_redis()
    turns = args.turns
    signed = signer.batch(turns, pool=3, users=turns, tag=f"r{run}d")
    fill = post_all(stack, signed, args.connections, timeout=120)
    queued = redis_client().llen(QUEUE_KEY)
    buffered = redis_client().llen(BUFFER_KEY)
    base = stack.fakes_cmd("count")["messages"]
    meter = CpuMeter({"worker": stack.worker_pids, "fakes": lambda: [stack.fakes.pid]})
    spawned = time.time()
    stack.start_worker()
    # CPU is metered from the first reply on (start-up, e.g. imports and training, excluded), like the rate
    first_seen = wait_messages(stack, base + 1, timeout=120, poll=0.01) - base
    meter.start()
    got = wait_messages(stack, base + turns, timeout=30 + turns / 10) - base
    cpu = meter.stop()  # measured while the worker still runs, so its CPU is counted
    times = sorted(r[0] for r in stack.fakes_cmd(f"since {base}"))
    first, last = (times[0], times[-1]) if times else (spawned, spawned)
    processed = pg_query("SELECT count(*) FROM messages WHERE direction = 'inbound' AND status = 'processed'")[0][0]
    return {"turns": turns, "fill_rps": round(rps(fill), 1), "fill_errors": fill["errors"], "jobs_queued": queued,
            "turns_buffered": buffered, "replies": got, "processed": processed,
            "rps": round((got - 1) / (last - first), 1) if got > 1 and last > first else 0.0,
            "rps_incl_startup": round(got / (last - spawned), 1) if got and last > spawned else 0.0,
            "startup_s": round(first - spawned, 2), "drain_s": round(last - first, 2), "cpu_s": cpu,
            "worker_cpu_ms_per_reply": round(1000 * cpu["worker"] / max(got - first_seen, 1), 3),
            "postgres_cpu_ms_per_reply": round(1000 * cpu["postgres"] / max(got - first_seen, 1), 3)}


def phase_e2e(stack: Stack, signer: Signer, args, run: int, serial: bool = False) -> dict:
    """One worker; messages sent one at a time; time from POST to the fake Twilio's receipt.

    serial=False: a new message every --e2e-gap-ms (if the worker is slower than that, a backlog builds);
    serial=True: the next message only after the previous reply arrived, so the worker is idle at each POST.
    """
    import http.client
    time.sleep(1.0)  # let the worker go idle (blocked on BLPOP)
    count, gap = args.e2e_messages, args.e2e_gap_ms / 1000
    tag = "s" if serial else "g"
    signed = [signer.signed(phone(3, i % args.turns), f"Is there parking at the venue? ref e2e{i}{tag}",
                            f"Attendee {i}") for i in range(count)]
    base = stack.fakes_cmd("count")["messages"]
    sent_at: dict[int, float] = {}
    http_ms: list[float] = []
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=10)
    deadline = time.monotonic() + 60 + count * gap * 3
    next_at = time.monotonic()
    try:
        for i, (sig, body) in enumerate(signed):
            if time.monotonic() > deadline:
                break
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            next_at = time.monotonic() + gap
            headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sig}
            t0 = time.time()
            p0 = time.perf_counter()
            conn.request("POST", WEBHOOK_PATH, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            http_ms.append((time.perf_counter() - p0) * 1000)
            if response.status == 200:
                sent_at[i] = t0
                if serial:
                    wait_messages(stack, base + len(sent_at), timeout=10, poll=0.005)
    finally:
        conn.close()
    wait_messages(stack, base + len(sent_at), timeout=30)
    e2e = []
    for t, _to, body in stack.fakes_cmd(f"since {base}"):
        match = re.search(rf"ref e2e(\d+){tag}", body)
        if match and int(match.group(1)) in sent_at:
            e2e.append((t - sent_at[int(match.group(1))]) * 1000)
    e2e.sort()
    http_ms.sort()
    return {"sent": len(sent_at), "replied": len(e2e), "gap_ms": None if serial else args.e2e_gap_ms,
            "p50_ms": round(percentile(e2e, 50), 2), "p90_ms": round(percentile(e2e, 90), 2),
            "p99_ms": round(percentile(e2e, 99), 2), "max_ms": round(e2e[-1], 2) if e2e else None,
            "webhook_p50_ms": round(percentile(http_ms, 50), 2), "webhook_p99_ms": round(percentile(http_ms, 99), 2)}


def phase_followup(stack: Stack, signer: Signer, args, run: int) -> dict:
    """Does a user's next webhook wait for the worker's LLM call? Fake LLM delay --followup-llm-ms; each of
    --followup-users new users sends a first message, then a second one while the worker is inside the LLM call
    for the first. Webhook latency of the second message: ~ms when intake never waits for the worker, ~the
    remaining LLM delay when the worker holds a row lock that the intake needs during the call."""
    import http.client
    delay = args.followup_llm_ms / 1000
    stack.fakes_cmd(f"llm-delay {delay}")
    first_ms, second_ms = [], []
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)

    def post(sig: str, body: str) -> float:
        started = time.perf_counter()
        conn.request("POST", WEBHOOK_PATH, body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sig})
        conn.getresponse().read()
        return (time.perf_counter() - started) * 1000
    try:
        time.sleep(1.0)  # the worker is idle
        for u in range(args.followup_users):
            number = phone(6, run * 1000 + u)
            base = stack.fakes_cmd("count")["messages"]
            first_ms.append(post(*signer.signed(number, f"Is there parking near gate {u}? r{run}", "Probe")))
            time.sleep(min(0.3, delay / 3))  # the worker has taken the job and is waiting for the LLM
            second_ms.append(post(*signer.signed(number, "and for children?", "Probe")))
            wait_messages(stack, base + 2, timeout=10 + 4 * delay)
    finally:
        conn.close()
        stack.fakes_cmd("llm-delay 0")
    return {"llm_delay_ms": args.followup_llm_ms, "users": args.followup_users,
            "first_p50_ms": round(statistics.median(first_ms), 1),
            "second_p50_ms": round(statistics.median(second_ms), 1), "second_max_ms": round(max(second_ms), 1)}


# ---------------------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------------------
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


def machine_info() -> dict:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
    info = {"cores": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem / 2**20, 1),
            "python": platform.python_version(), "kernel": platform.release()}
    try:
        import psycopg2
        conn = psycopg2.connect(PG_ADMIN + "/postgres")
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            info["postgresql"] = cur.fetchone()[0]
        conn.close()
        info["redis"] = redis_client().info("server")["redis_version"]
    except Exception as exc:  # noqa: BLE001
        info["versions_error"] = str(exc)
    for name in ("gunicorn", "flask", "sqlalchemy", "rq", "redis", "twilio", "psycopg2"):
        try:
            from importlib.metadata import version
            info[name if name != "redis" else "redis-py"] = version({"psycopg2": "psycopg2-binary"}.get(name, name))
        except Exception:  # noqa: BLE001
            pass
    if shutil.which("wrk"):
        info["wrk"] = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0][:40]
    return info


def median_of(runs: list[dict], path: str) -> float | None:
    values = []
    for r in runs:
        node = r
        for key in path.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, (int, float)):
            values.append(node)
    return round(statistics.median(values), 3) if values else None


def summarise(runs: list[dict]) -> dict:
    rows = {
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
    return {name: median_of(runs, path) for name, path in rows.items()}


def print_table(summary: dict, runs: list[dict], args) -> None:
    def verdict(name: str, value, higher_is_better: bool) -> str:
        if value is None:
            return "n/a"
        ok = value >= TARGETS[name] if higher_is_better else value < TARGETS[name]
        return "PASS" if ok else "MISS"

    def per_run(path: str) -> str:
        values = []
        for r in runs:
            node = r
            for key in path.split("."):
                node = node.get(key) if isinstance(node, dict) else None
            values.append("-" if node is None else f"{node:g}")
        return ", ".join(values)

    n = len(runs)
    print(f"\ncode: {args.code}")
    print(f"bench_intake: {n} run(s), median shown; {args.connections} connections, {args.duration:g}s per "
          f"measurement, generator={args.generator_used}, WEB_CONCURRENCY={args.web_concurrency}, "
          f"WEB_THREADS={args.web_threads}, INTAKE_MODE={args.intake_mode}, "
          f"fakes={'as-is' if args.fakes_as_is else 'TCP_NODELAY'}")
    lines = [
        ("/healthz req/s", summary["healthz_rps"], "", "", "intake.healthz.rps"),
        ("webhook req/s (no worker)", summary["webhook_rps"], "", "", "intake.webhook.rps"),
        ("intake / healthz", summary["intake_ratio"], ">= 0.50", verdict("intake_ratio", summary["intake_ratio"], True),
         "intake.ratio"),
        ("webhook p50 ms", summary["webhook_p50_ms"], "", "", "intake.webhook.p50_ms"),
        ("webhook p99 ms", summary["webhook_p99_ms"], "< 50", verdict("webhook_p99_ms", summary["webhook_p99_ms"], False),
         "intake.webhook.p99_ms"),
        ("gunicorn CPU ms / webhook", summary["gunicorn_cpu_ms_per_request"], "", "",
         "intake.webhook.gunicorn_cpu_ms_per_request"),
        ("postgres CPU ms / webhook", summary["postgres_cpu_ms_per_request"], "", "",
         "intake.webhook.postgres_cpu_ms_per_request"),
        ("drain replies/s (1 worker)", summary["drain_rps"], ">= 100", verdict("drain_rps", summary["drain_rps"], True),
         "drain.rps"),
        ("  incl. worker start-up", summary["drain_rps_incl_startup"], "", "", "drain.rps_incl_startup"),
        ("worker CPU ms / reply", summary["worker_cpu_ms_per_reply"], "", "", "drain.worker_cpu_ms_per_reply"),
        ("postgres CPU ms / reply", summary["postgres_cpu_ms_per_reply"], "", "", "drain.postgres_cpu_ms_per_reply"),
        # the target is for idle workers (the serial rows); one message per 20 ms measures the backlog when the
        # offered 50/s comes near what one worker drains message by message
        ("webhook->Twilio p50 ms, 1 per 20 ms", summary["e2e_p50_ms"], "", "", "e2e.p50_ms"),
        ("webhook->Twilio p99 ms, 1 per 20 ms", summary["e2e_p99_ms"], "", "", "e2e.p99_ms"),
        ("  serial, idle worker p50", summary["e2e_idle_p50_ms"], "< 100",
         verdict("e2e_p50_ms", summary["e2e_idle_p50_ms"], False), "e2e_idle.p50_ms"),
        ("  serial, idle worker p99", summary["e2e_idle_p99_ms"], "", "", "e2e_idle.p99_ms"),
        ("follow-up webhook during LLM", summary["followup_second_p50_ms"], "", "", "followup.second_p50_ms"),
        ("gunicorn CPU ms / healthz", summary["healthz_gunicorn_cpu_ms"], "", "",
         "intake.healthz.gunicorn_cpu_ms_per_request"),
        ("host speed: reference loop ms", summary["host_speed_ms"], "", "", "host_speed_ms"),
        ("outside load: before run %", summary["background_busy_pct"], "", "", "background_busy_pct"),
        ("  during intake %", summary["intake_foreign_pct"], "", "", "intake.foreign_pct_max"),
        ("  during drain %", summary["drain_foreign_pct"], "", "", "drain.cpu_s.foreign_pct"),
    ]
    print(f"{'metric':<28} {'median':>9}  {'target':<8} {'':<5} runs")
    for label, value, target, verdict_text, path in lines:
        shown = "-" if value is None else f"{value:g}"
        print(f"{label:<28} {shown:>9}  {target:<8} {verdict_text:<5} {per_run(path) if n > 1 else ''}")


def main() -> int:
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
    args = parser.parse_args()
    phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    if phases & {"e2e", "followup"} and "drain" not in phases:
        parser.error("e2e and followup need the drain phase (they reuse its worker and users)")
    if args.generator == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed: apt-get install -y wrk (or use --generator python)")
    args.generator_used = "wrk" if args.generator in ("auto", "wrk") and shutil.which("wrk") else "python"
    if args.generator_used == "python" and args.generator == "auto":
        log("wrk not found (install: apt-get install -y wrk); using the Python asyncio generator")
    args.web_concurrency = os.environ.get("WEB_CONCURRENCY", "default (gunicorn.conf.py)")
    args.web_threads = os.environ.get("WEB_THREADS", "default")
    args.intake_mode = os.environ.get("INTAKE_MODE", "buffered (default)")

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    lock = acquire_lock(timeout=args.lock_wait)
    workdir = tempfile.mkdtemp(prefix="bench_intake-")
    runs: list[dict] = []
    info = machine_info()
    failed = False
    try:
        info["code"] = use_snapshot(args.ref, workdir)
        args.code = info["code"]
        for run in range(args.runs):
            result = {"background_busy_pct": wait_quiet(args.quiet_wait), "host_speed_ms": host_speed_ms()}
            stack = Stack(workdir, {}, fakes_as_is=args.fakes_as_is)
            try:
                log(f"run {run + 1}/{args.runs}: starting the stack (logs in {workdir})")
                stack.start()
                signer = Signer(stack)
                gen = Generator(stack, args.generator_used, args.connections, args.wrk_threads, workdir)
                if "intake" in phases:
                    log("  intake: /healthz then the signed webhook, no worker running")
                    result["intake"] = phase_intake(stack, gen, signer, args, run)
                    intake = result["intake"]
                    log(f"    healthz {intake['healthz']['rps']}/s webhook {intake['webhook']['rps']}/s "
                        f"ratio {intake['ratio']} p99 {intake['webhook']['p99_ms']} ms "
                        f"(gunicorn workers busy: healthz {intake['healthz']['busy_workers']}, "
                        f"webhook {intake['webhook']['busy_workers']})")
                if "drain" in phases:
                    log(f"  drain: {args.turns} queued turns, then one worker")
                    result["drain"] = phase_drain(stack, signer, args, run)
                    log(f"    {result['drain']['replies']} replies, {result['drain']['rps']}/s")
                if "e2e" in phases:
                    log(f"  e2e: {args.e2e_messages} messages one at a time, {args.e2e_gap_ms:g} ms apart")
                    result["e2e"] = phase_e2e(stack, signer, args, run)
                    log(f"    p50 {result['e2e']['p50_ms']} ms p99 {result['e2e']['p99_ms']} ms")
                    log(f"  e2e idle: {args.e2e_messages} messages, each after the previous reply arrived")
                    result["e2e_idle"] = phase_e2e(stack, signer, args, run, serial=True)
                    log(f"    p50 {result['e2e_idle']['p50_ms']} ms p99 {result['e2e_idle']['p99_ms']} ms")
                if "followup" in phases:
                    log(f"  followup: {args.followup_users} users, 2nd message during a {args.followup_llm_ms:g} ms "
                        f"LLM call")
                    result["followup"] = phase_followup(stack, signer, args, run)
                    log(f"    2nd webhook p50 {result['followup']['second_p50_ms']} ms")
                runs.append(result)
            except Exception as exc:  # noqa: BLE001 - one failed run must not discard the others
                log(f"  run {run + 1} failed: {exc}")
                failed = True
                args.keep_logs = True
            finally:
                stack.stop()
    except KeyboardInterrupt:
        log("interrupted; stopped every process this script started")
        failed = True
    except Exception as exc:  # noqa: BLE001
        log(f"error: {exc}")
        failed = True
        args.keep_logs = True
    finally:
        if args.keep_logs or failed:
            log(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        lock.close()
    if runs:
        summary = summarise(runs)
        print_table(summary, runs, args)
        if args.json:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump({"machine": info, "args": {k: v for k, v in vars(args).items()}, "summary": summary,
                           "targets": TARGETS, "runs": runs}, f, indent=2, ensure_ascii=False)
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "_fakes":
        FAKES = sys.argv[2]
        sys.exit(serve_fakes(as_is="--as-is" in sys.argv))
    sys.exit(main())
