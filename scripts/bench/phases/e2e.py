"""End to end: webhooks sent one at a time with that one worker idle: the time from POSTing the webhook until
the fake Twilio receives the reply (p50/p99)."""
from __future__ import annotations

import http.client
import re
import time

from ..signing import Signer, phone
from ..stack import Stack
from ..stats import percentile
from .messaging import post_webhook, wait_messages


def phase_e2e(stack: Stack, signer: Signer, args, run: int, serial: bool = False) -> dict:
    """One worker; messages sent one at a time; time from POST to the fake Twilio's receipt.

    serial=False: a new message every --e2e-gap-ms (if the worker is slower than that, a backlog builds);
    serial=True: the next message only after the previous reply arrived, so the worker is idle at each POST.
    """
    time.sleep(1.0)  # let the worker go idle (blocked on BLPOP)
    tag = "s" if serial else "g"
    signed = [signer.signed(phone(3, i % args.turns), f"Is there parking at the venue? ref e2e{i}{tag}",
                            f"Attendee {i}") for i in range(args.e2e_messages)]
    base = stack.fakes_cmd("count")["messages"]
    sent_at, http_ms = _send_paced(stack, signed, args.e2e_gap_ms / 1000, serial, base)
    wait_messages(stack, base + len(sent_at), timeout=30)
    e2e = sorted(_reply_delays_ms(stack.fakes_cmd(f"since {base}"), tag, sent_at))
    http_ms.sort()
    return {"sent": len(sent_at), "replied": len(e2e), "gap_ms": None if serial else args.e2e_gap_ms,
            "p50_ms": round(percentile(e2e, 50), 2), "p90_ms": round(percentile(e2e, 90), 2),
            "p99_ms": round(percentile(e2e, 99), 2), "max_ms": round(e2e[-1], 2) if e2e else None,
            "webhook_p50_ms": round(percentile(http_ms, 50), 2), "webhook_p99_ms": round(percentile(http_ms, 99), 2)}


def _send_paced(stack: Stack, signed: list[tuple[str, str]], gap: float, serial: bool,
                base: int) -> tuple[dict[int, float], list[float]]:
    """Posts the webhooks `gap` seconds apart (serial: each after the previous reply arrived); returns when
    each accepted one was sent (index -> wall clock) and every POST's milliseconds."""
    sent_at: dict[int, float] = {}
    http_ms: list[float] = []
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=10)
    deadline = time.monotonic() + 60 + len(signed) * gap * 3
    next_at = time.monotonic()
    try:
        for i, (sig, body) in enumerate(signed):
            if time.monotonic() > deadline:
                break
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            next_at = time.monotonic() + gap
            t0 = time.time()
            status, ms = post_webhook(conn, sig, body)
            http_ms.append(ms)
            if status == 200:
                sent_at[i] = t0
                if serial:
                    wait_messages(stack, base + len(sent_at), timeout=10, poll=0.005)
    finally:
        conn.close()
    return sent_at, http_ms


def _reply_delays_ms(records: list, tag: str, sent_at: dict[int, float]) -> list[float]:
    """Milliseconds from each message's POST to the fake Twilio's receipt of its reply (the reply quotes `ref`)."""
    delays = []
    for t, _to, body in records:
        match = re.search(rf"ref e2e(\d+){tag}", body)
        if match and int(match.group(1)) in sent_at:
            delays.append((t - sent_at[int(match.group(1))]) * 1000)
    return delays
