"""One webhook POSTed over a kept connection, and waiting for the fake Twilio to receive replies."""
from __future__ import annotations

import http.client
import time

from ..config import WEBHOOK_PATH
from ..stack import Stack


def post_webhook(conn: http.client.HTTPConnection, signature: str, body: str) -> tuple[int, float]:
    """(HTTP status, milliseconds until the response was read) of one signed webhook."""
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    started = time.perf_counter()
    conn.request("POST", WEBHOOK_PATH, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status, (time.perf_counter() - started) * 1000


def wait_messages(stack: Stack, target: int, timeout: float, poll: float = 0.05) -> int:
    """Waits (bounded) until the fake Twilio holds `target` messages; returns how many it holds."""
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
