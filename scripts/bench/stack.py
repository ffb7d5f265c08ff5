"""The bot's processes started exactly as the Procfile does (release, `web` with $PORT, `worker`), with the
fakes in a child process, a database of its own and one Redis db; and stopped again, whatever happens."""
from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from types import ModuleType

from .config import BOT_NUMBER, DB_NAME, PG_ADMIN, REDIS_DB, REDIS_URL, VENV_BIN, log
from .fakes import FakesProcess, fakes_command, load_fakes
from .procs import descendants, stop_group
from .services import drop_database, flush_redis, recreate_database
from .snapshot import Code, procfile


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env() -> dict[str, str]:
    """This process's environment with the virtualenv first on PATH, no PYTHONPATH, unbuffered output."""
    env = dict(os.environ)
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
    env.pop("PYTHONPATH", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def app_env(db_name: str, ports: dict[str, int], public: str, fakes: ModuleType) -> dict[str, str]:
    """The bot's settings for a benchmark: our database and Redis db, the fakes' URLs and credentials."""
    return dict(DATABASE_URL=f"{PG_ADMIN}/{db_name}", REDIS_URL=REDIS_URL, TWILIO_ACCOUNT_SID=fakes.ACCOUNT_SID,
                TWILIO_AUTH_TOKEN=fakes.AUTH_TOKEN, TWILIO_WHATSAPP_NUMBER=BOT_NUMBER,
                TWILIO_API_BASE_URL=f"http://127.0.0.1:{ports['twilio']}", PUBLIC_BASE_URL=public,
                OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=f"http://127.0.0.1:{ports['openai']}/v1",
                OPENAI_MODEL="gpt-4o-mini", SECRET_KEY="x", LOG_LEVEL="WARNING")


def run_release(src: str, env: dict[str, str]) -> None:
    """The Procfile's `release` command (the migrations) of the code in src."""
    release = subprocess.run(procfile(src)["release"], shell=True, cwd=src, env=env, capture_output=True,
                             text=True, timeout=120)
    if release.returncode:
        raise RuntimeError(f"release failed: {release.stderr[-800:]}")


class Stack:
    """Fakes + database + gunicorn (+ the worker on demand), all started like the Procfile does."""

    def __init__(self, workdir: str, code: Code, web_env: dict[str, str], fakes_as_is: bool = False):
        self.fakes_as_is = fakes_as_is
        self.workdir = workdir
        self.code = code
        self.web_env = web_env
        self.procs: list[subprocess.Popen] = []
        self.fakes: FakesProcess | None = None
        self.web: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.db_created = False

    def _spawn(self, cmd, logname: str, shell: bool = False, **kw) -> subprocess.Popen:
        with open(os.path.join(self.workdir, logname), "ab") as out:
            proc = subprocess.Popen(cmd, cwd=self.code.src, env=kw.pop("env", self.env),
                                    stdout=kw.pop("stdout", out), stderr=out, start_new_session=True, shell=shell,
                                    **kw)
        self.procs.append(proc)
        return proc

    def start(self) -> None:
        self.env = base_env()
        ports = self._start_fakes()
        self.port = free_port()
        self.public = f"http://127.0.0.1:{self.port}"
        recreate_database(DB_NAME)
        self.db_created = True
        flush_redis()
        self.env = dict(self.env, **app_env(DB_NAME, ports, self.public, self.fakes_module),
                        PORT=str(self.port), **self.web_env)
        run_release(self.code.src, self.env)
        self.web = self._spawn(procfile(self.code.src)["web"], "web.log", shell=True)
        self._wait_healthy(timeout=30)

    def _start_fakes(self) -> dict[str, int]:
        proc = self._spawn(fakes_command(self.code.fakes, self.fakes_as_is), "fakes.log",
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.fakes = FakesProcess(proc, f"{self.workdir}/fakes.log")
        ports = self.fakes.ports()
        self.fakes_module = load_fakes(self.code.fakes)
        self.account_sid, self.auth_token = self.fakes_module.ACCOUNT_SID, self.fakes_module.AUTH_TOKEN
        return ports

    def fakes_cmd(self, cmd: str) -> dict | list:
        return self.fakes.cmd(cmd)

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.web.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.web.returncode}); see {self.workdir}/web.log")
            if self._healthy():
                return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not become healthy in {timeout}s; see {self.workdir}/web.log")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.public + "/healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def web_pids(self) -> list[int]:
        return descendants(self.web.pid) if self.web else []

    def start_worker(self) -> subprocess.Popen:
        self.worker = self._spawn(procfile(self.code.src)["worker"], "worker.log", shell=True)
        return self.worker

    def worker_pids(self) -> list[int]:
        return descendants(self.worker.pid) if self.worker and self.worker.poll() is None else []

    def stop_proc(self, proc: subprocess.Popen | None) -> None:
        """Stops the process group this script created for proc; the fakes are asked to quit first."""
        if proc is None:
            return
        if self.fakes is not None and proc is self.fakes.proc:
            self.fakes.quit()
        stop_group(proc)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            try:
                self.stop_proc(proc)
            except Exception as exc:  # keep stopping the others
                log(f"stopping pid {proc.pid}: {exc}")
        self._drop_database()
        try:
            flush_redis()
        except Exception as exc:  # a cleanup step must not hide the run's result
            log(f"flushing redis db {REDIS_DB}: {exc}")

    def _drop_database(self) -> None:
        if not self.db_created:
            return
        try:
            drop_database(DB_NAME)
        except Exception as exc:  # a cleanup step must not hide the run's result
            log(f"dropping {DB_NAME}: {exc}")
