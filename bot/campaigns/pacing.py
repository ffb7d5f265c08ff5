"""Pacing broadcast sends to BROADCAST_MPS across every worker: each send takes the next free slot on one clock
(Redis's, shared by all processes; a lock and the monotonic clock in the embedded mode) and waits for it."""
from __future__ import annotations

import threading
import time

import redis

PACE_KEY = "bot:broadcasts:next_slot"
# The next free slot (microseconds on Redis's clock) moves on by one gap per send; the caller waits until its
# slot. A slot in the past is replaced by now, so idle time is not saved up into a burst.
_TAKE_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then slot = now end
redis.call('SET', KEYS[1], string.format('%d', slot + tonumber(ARGV[1])), 'PX', 60000)
return slot - now
"""


class RedisPacer:
    def __init__(self, client: redis.Redis, per_second: float) -> None:
        self.gap_us = int(1_000_000 / per_second)
        self._take = client.register_script(_TAKE_SLOT)

    def wait(self) -> None:
        """Blocks until this send's slot."""
        wait_us = int(self._take(keys=[PACE_KEY], args=[self.gap_us]))
        if wait_us > 0:
            time.sleep(wait_us / 1_000_000)


class LocalPacer:
    """The same slots for the threads of one process (the embedded mode)."""

    def __init__(self, per_second: float) -> None:
        self.gap = 1.0 / per_second
        self._lock = threading.Lock()
        self._slot = 0.0

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = self._slot = max(self._slot, now)
            self._slot = slot + self.gap
        if slot > now:
            time.sleep(slot - now)
