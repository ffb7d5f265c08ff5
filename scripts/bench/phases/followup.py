"""Followup: does a user's next webhook wait for the worker's LLM call?"""
from __future__ import annotations

import http.client
import statistics
import time

from ..signing import Signer, phone
from ..stack import Stack
from .messaging import post_webhook, wait_messages


def phase_followup(stack: Stack, signer: Signer, args, run: int) -> dict:
    """Fake LLM delay --followup-llm-ms; each of --followup-users new users sends a first message, then a second
    one while the worker is inside the LLM call for the first. Webhook latency of the second message: ~ms when
    intake never waits for the worker, ~the remaining LLM delay when the worker holds a row lock that the intake
    needs during the call."""
    delay = args.followup_llm_ms / 1000
    stack.fakes_cmd(f"llm-delay {delay}")
    first_ms, second_ms = [], []
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    try:
        time.sleep(1.0)  # the worker is idle
        for u in range(args.followup_users):
            text = f"Is there parking near gate {u}? r{run}"
            first, second = _two_messages(stack, conn, signer, phone(6, run * 1000 + u), text, delay)
            first_ms.append(first)
            second_ms.append(second)
    finally:
        conn.close()
        stack.fakes_cmd("llm-delay 0")
    return {"llm_delay_ms": args.followup_llm_ms, "users": args.followup_users,
            "first_p50_ms": round(statistics.median(first_ms), 1),
            "second_p50_ms": round(statistics.median(second_ms), 1), "second_max_ms": round(max(second_ms), 1)}


def _two_messages(stack: Stack, conn: http.client.HTTPConnection, signer: Signer, number: str, text: str,
                  delay: float) -> tuple[float, float]:
    """One user's first message, then a second one while the worker waits for the LLM; both webhooks' ms."""
    base = stack.fakes_cmd("count")["messages"]
    _, first = post_webhook(conn, *signer.signed(number, text, "Probe"))
    time.sleep(min(0.3, delay / 3))  # the worker has taken the job and is waiting for the LLM
    _, second = post_webhook(conn, *signer.signed(number, "and for children?", "Probe"))
    wait_messages(stack, base + 2, timeout=10 + 4 * delay)
    return first, second
