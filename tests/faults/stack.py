"""The Procfile's processes (web, worker, clock) as an operator runs them, against the test PostgreSQL, a
Redis server of their own (AOF on, on a free port: the shared Redis is never stopped) and the fake Twilio
and OpenAI servers; a stream of signed messages posted to the web process over HTTP; and the check that
every acknowledged turn was answered exactly once.

Each turn's body is `sequence <k>` from its own phone; the fake LLM echoes it (`FAKE-LLM: sequence <k>`), so
a reply names the turn it answers.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import redis
from rq import Worker
from sqlalchemy import create_engine, text
from twilio.request_validator import RequestValidator

from tests.conftest import BOT_NUMBER, PUBLIC_BASE_URL, inbound_params
from tests.fakes import ACCOUNT_SID, AUTH_TOKEN

ROOT = Path(__file__).resolve().parents[2]
PATH = "/webhooks/twilio/messages"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return "exec " + line.split(":", 1)[1].strip()
    raise AssertionError(f"Procfile has no {name} line")


class RedisServer:
    """`redis-server` with AOF (`appendfsync everysec`) in a directory of its own; restarts replay the AOF."""

    def __init__(self) -> None:
        self.port, self.dir = free_port(), tempfile.mkdtemp(prefix="bot-faults-redis-")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir, "--save", "",
             "--appendonly", "yes", "--appendfsync", "everysec", "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.time() + 20
        while True:
            try:
                if client.ping():
                    break
            except redis.RedisError:
                assert time.time() < deadline, "redis-server did not start"
                time.sleep(0.05)
        client.close()
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM: a clean shutdown (AOF flushed); SIGKILL: a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(20)

    def close(self) -> None:
        self.stop(signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


class Stack:
    """Starts Procfile processes with one environment and kills them all at the end."""

    def __init__(self, settings, twilio, llm, redis_url: str, **env: str) -> None:
        self.port = free_port()
        self.redis_url = redis_url
        self.env = dict(os.environ, DATABASE_URL=settings.database_url, REDIS_URL=redis_url,
                        TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
                        TWILIO_WHATSAPP_NUMBER=BOT_NUMBER, TWILIO_API_BASE_URL=twilio.url,
                        PUBLIC_BASE_URL=PUBLIC_BASE_URL, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=f"{llm.url}/v1",
                        OPENAI_MODEL="gpt-4o-mini", SECRET_KEY="test", LOG_LEVEL="WARNING", INTAKE_MODE="buffered",
                        FEEDBACK_PROMPT="false", REMINDER_CHECK_SECONDS="3600", WORKER_THREADS="2",
                        WEB_CONCURRENCY="2", PORT=str(self.port), LLM_TIMEOUT="20",
                        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
        # the production defaults for the locks and the sweeps (USER_LOCK_SECONDS, LOST_CHECK_SECONDS,
        # INTAKE_SWEEP_SECONDS, REQUEUE_*): the figures the tests print are what an operator would see
        self.env.update(env)
        self.procs: list[subprocess.Popen] = []
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, name: str) -> subprocess.Popen:
        proc = subprocess.Popen(procfile(name), shell=True, cwd=ROOT, env=self.env, start_new_session=True)
        self.procs.append(proc)
        return proc

    def up(self, workers: int = 1) -> list[subprocess.Popen]:
        """web, `workers` worker processes and the clock, once the web answers and every worker listens."""
        self.start("web")
        started = [self.start("worker") for _ in range(workers)]
        self.start("clock")
        self.wait_until_listening(workers * int(self.env["WORKER_THREADS"]))
        deadline = time.time() + 60
        while not self.web_answers():
            assert time.time() < deadline, "the web process did not start"
            time.sleep(0.2)
        return started

    def wait_until_listening(self, n: int, seconds: float = 90.0) -> None:
        client = redis.Redis.from_url(self.redis_url)
        deadline = time.time() + seconds
        while Worker.count(connection=client) < n:
            assert time.time() < deadline, f"{n} workers did not start within {seconds:.0f}s"
            time.sleep(0.2)
        client.close()

    def web_answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def readyz(self) -> dict:
        import json
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=5) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read())

    def post(self, params: dict) -> int:
        signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + PATH, params)
        request = urllib.request.Request(self.url + PATH, data=urllib.parse.urlencode(params).encode(),
                                         headers={"X-Twilio-Signature": signature,
                                                  "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0

    def kill(self, proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        os.killpg(proc.pid, sig)
        proc.wait(20)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(20)


class Stream:
    """Posts `sequence <k>` from each of `phones` in turn, one every `every` seconds, in a thread. A turn not
    acknowledged with 200 is posted again with the same MessageSid (as a Twilio retry would be) until it is."""

    def __init__(self, stack: Stack, phones: list[str], per_phone: int, every: float) -> None:
        self.stack, self.every = stack, every
        self.turns = [(phone, k) for k in range(1, per_phone + 1) for phone in phones]
        self.acknowledged: list[tuple[str, int]] = []
        self.refused = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Stream":
        self._thread.start()
        return self

    def join(self, seconds: float) -> None:
        self._thread.join(seconds)
        assert not self._thread.is_alive(), "the stream did not finish"

    def _run(self) -> None:
        for phone, k in self.turns:
            params = inbound_params(phone, f"sequence {k}", sid="SM" + secrets.token_hex(16))
            deadline = time.time() + 60
            while self.stack.post(params) != 200:
                self.refused += 1
                assert time.time() < deadline
                time.sleep(0.5)
            self.acknowledged.append((phone, k))
            time.sleep(self.every)


def answers(twilio) -> Counter:
    """How many replies each (phone, k) got."""
    counts: Counter = Counter()
    with twilio.lock:
        sent = list(twilio.messages)
    for message in sent:
        body = message["body"]
        if "FAKE-LLM: sequence " in body:
            counts[(message["to"].removeprefix("whatsapp:"), int(body.split("sequence ")[1].split()[0]))] += 1
    return counts


def wait_answered(twilio, turns: list[tuple[str, int]], seconds: float) -> float:
    """Waits until every turn has a reply; returns when (time.time()). Fails naming what is missing."""
    deadline = time.time() + seconds
    while True:
        got = answers(twilio)
        missing = [t for t in turns if not got[t]]
        if not missing:
            return time.time()
        assert time.time() < deadline, f"{len(missing)} of {len(turns)} turns unanswered: {missing[:5]}"
        time.sleep(0.2)


def assert_exactly_once(twilio, turns: list[tuple[str, int]], settle: float = 3.0) -> None:
    time.sleep(settle)  # a duplicate would come now
    got = answers(twilio)
    twice = {t: n for t, n in got.items() if n > 1}
    assert not twice, f"answered more than once: {twice}"
    assert all(got[t] == 1 for t in turns)


class PostgresCluster:
    """A PostgreSQL cluster of the test's own (initdb in a temporary directory, run as the `postgres` OS user,
    on a free port) that it may stop and start: the shared PostgreSQL is never touched."""

    def __init__(self) -> None:
        self.port, self.dir = free_port(), tempfile.mkdtemp(prefix="bot-faults-pg-")
        self.data = f"{self.dir}/data"
        self.url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/bot_faults"
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        self.bin = bins[-1] if bins else Path(shutil.which("pg_ctl") or "/usr/bin/pg_ctl").parent

    @staticmethod
    def available() -> bool:
        return os.geteuid() == 0 and shutil.which("runuser") is not None and \
            any(Path("/usr/lib/postgresql").glob("*/bin/initdb"))

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, cwd=self.dir)

    def create(self) -> "PostgresCluster":
        shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres(str(self.bin / "initdb"), "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        self._as_postgres(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "bot_faults")
        return self

    def start(self) -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", self.data, "-l", f"{self.dir}/log", "-w", "start", "-o",
                          f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off")

    def stop(self) -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop")

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._as_postgres(str(self.bin / "pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


def kill_between_sends(stack: Stack, proc: subprocess.Popen, database_url: str, route: str | None = None) -> None:
    """SIGKILLs `proc` while none of its outbound messages (of `route`, if given) is `submitting`: stops it, looks,
    and lets it go on for 20 ms when one is. A kill during a REST call leaves that message `submitting` by design
    (never resent: Twilio may have it), which no count can be checked against."""
    query = "SELECT count(*) FROM messages WHERE status = 'submitting'" + (" AND route = :route" if route else "")
    engine = create_engine(database_url)
    try:
        for _ in range(200):
            os.killpg(proc.pid, signal.SIGSTOP)
            with engine.connect() as connection:
                sending = connection.execute(text(query), {"route": route} if route else {}).scalar()
            if not sending:
                stack.kill(proc)
                return
            os.killpg(proc.pid, signal.SIGCONT)
            time.sleep(0.02)
        raise AssertionError("a message stayed `submitting` for 4 s")
    finally:
        engine.dispose()
