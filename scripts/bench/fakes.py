"""The fake Twilio REST API and fake OpenAI of tests/fakes.py, served from a child process of their own.

`bench_intake.py _fakes PATH [--as-is]` starts FakeTwilio(callbacks="none") and FakeOpenAI and answers one-line
commands on stdin, so the fakes' threads never share a GIL with the measuring code. FakesProcess is the
parent's side of that conversation.
"""
from __future__ import annotations

import importlib.util
import json
import os
import select
import subprocess
import sys
from types import ModuleType

from .config import ENTRY, VENV_BIN


def load_fakes(path: str) -> ModuleType:
    """tests/fakes.py (the copy at path) as a module of its own."""
    spec = importlib.util.spec_from_file_location("bench_fakes", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fakes_command(path: str, as_is: bool = False) -> list[str]:
    return [os.path.join(VENV_BIN, "python"), ENTRY, "_fakes", path] + (["--as-is"] if as_is else [])


def serve_fakes(path: str, as_is: bool = False) -> int:
    """The child process: prints the fakes' ports as one JSON line, then answers commands until `quit` or EOF."""
    fakes = load_fakes(path)
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
        print(json.dumps(_answer(cmd, twilio, openai)), flush=True)
    twilio.stop()
    openai.stop()
    return 0


def _answer(cmd: list[str], twilio, openai) -> dict | list:
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
    return out


class FakesProcess:
    """The parent's side: the child's ports, and its answers to `count`, `since N` and `llm-delay S`."""

    def __init__(self, proc: subprocess.Popen, log_hint: str):
        self.proc = proc
        self.log_hint = log_hint  # where the child's stderr went, for error messages

    def ports(self) -> dict[str, int]:
        return json.loads(self._readline(timeout=20))

    def cmd(self, cmd: str) -> dict | list:
        self.proc.stdin.write((cmd + "\n").encode())
        self.proc.stdin.flush()
        return json.loads(self._readline(timeout=30))

    def quit(self, timeout: float = 3.0) -> None:
        """Asks the child to stop its servers and exit; the caller stops its process group after that."""
        if self.proc.poll() is not None:
            return
        try:
            self.proc.stdin.write(b"quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=timeout)
        except (OSError, subprocess.TimeoutExpired):
            pass

    def _readline(self, timeout: float) -> str:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise RuntimeError("the fakes process did not answer")
        line = self.proc.stdout.readline().decode()
        if not line:
            raise RuntimeError(f"the fakes process exited; see {self.log_hint}")
        return line
