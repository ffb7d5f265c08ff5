"""The fallback load generator when wrk is not installed: pre-built raw requests over keep-alive connections,
in asyncio. It costs more CPU than wrk, so ratios measured with it are less favourable."""
from __future__ import annotations

import asyncio
import re
import time

from .stats import latency_summary_us

CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.I)
CONNECTION_CLOSE = re.compile(rb"\r\nconnection:\s*close", re.I)


class PyLoad:
    """`conns` connections sending requests back to back until the deadline (or max_count requests in all).

    Either `get` (the same request every time) or `requests` (each once, in order; wrapping round, counted in
    `wrapped`, when they run out)."""

    def __init__(self, host: str, port: int, requests: list[bytes] | None, get: bytes | None, duration: float,
                 max_count: int | None):
        self.host, self.port = host, port
        self.requests, self.get, self.max_count = requests, get, max_count
        self.latencies: list[float] = []
        self.errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
        self.issued = self.wrapped = 0
        self.duration = duration
        self.deadline = 0.0

    async def run(self, conns: int) -> dict:
        """The same figures as wrk's BENCH_JSON line."""
        self.deadline = time.perf_counter() + self.duration
        started = time.perf_counter()
        await asyncio.gather(*(self._connection() for _ in range(conns)))
        elapsed = time.perf_counter() - started
        return {"requests": len(self.latencies), "duration_us": int(elapsed * 1e6), "errors": self.errors,
                "latency_us": latency_summary_us(self.latencies), "wrapped": self.wrapped, "issued": self.issued}

    def next_request(self) -> bytes | None:
        if self.max_count is not None and self.issued >= self.max_count:
            return None
        i = self.issued
        self.issued += 1
        if self.get is not None:
            return self.get
        if i >= len(self.requests):
            self.wrapped += 1
            i %= len(self.requests)
        return self.requests[i]

    async def _connection(self) -> None:
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            self.errors["connect"] += 1
            return
        try:
            while time.perf_counter() < self.deadline:
                raw = self.next_request()
                if raw is None:
                    return
                started = time.perf_counter()
                writer.write(raw)
                head = await self._response_head(reader)
                if head is None:
                    return
                self._record(head, time.perf_counter() - started)
                if CONNECTION_CLOSE.search(head):
                    writer.close()
                    reader, writer = await asyncio.open_connection(self.host, self.port)
        finally:
            writer.close()

    async def _response_head(self, reader: asyncio.StreamReader) -> bytes | None:
        """The response's head, its body read and dropped; None (counted) after a timeout or a broken read."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        except asyncio.TimeoutError:
            self.errors["timeout"] += 1
            return None
        except (asyncio.IncompleteReadError, OSError):
            self.errors["read"] += 1
            return None
        match = CONTENT_LENGTH.search(head)
        if match:
            await reader.readexactly(int(match.group(1)))
        return head

    def _record(self, head: bytes, latency: float) -> None:
        self.latencies.append(latency)
        if not head.startswith((b"HTTP/1.1 2", b"HTTP/1.0 2")):
            self.errors["status"] += 1
