"""The buffered intake: the webhook hands a verified turn to Redis in one round trip; a job stores it.

Why: writing the turn to PostgreSQL inside the request cost a signed webhook about six times a `/healthz`
(docs/benchmarks.md). With `INTAKE_MODE=buffered` (the default when REDIS_URL is set) the request verifies,
parses, and runs one Lua script that

1. claims the MessageSid (`SET bot:intake:seen:<sid> NX EX …`): a second delivery of it is dropped here,
2. appends the parsed turn to the `bot:intake` list — arrival order, one list for all users,
3. wakes a worker's ingest pump (bot/worker/pumps.py) when a pump process is alive: it leaves a token on
   `bot:intake:wake`, where the pumps wait; otherwise
4. sets `bot:intake:scheduled` unless already set, in which case an ingest job is already on its way.

Without pumps (workers of an earlier release, the tests' burst workers), only the request that set the flag
enqueues `bot.worker.jobs.ingest_buffered` (on the `intake` queue, which
workers take before replies). The job clears the flag, then moves the list into PostgreSQL in batches
under one lock (so turns get their ids in arrival order), enqueues the reply jobs and only then trims what
it stored: a crash at any point leaves the turns in Redis for the next run, and the unique MessageSid in
PostgreSQL makes the re-run store nothing twice. The flag expires, so a lost enqueue heals itself with the
next message; workers also sweep at start-up and the clock every INTAKE_SWEEP_SECONDS.

The trade: until a worker stores it (milliseconds when one is idle), an acknowledged turn lives only in
Redis, like every RQ job does. Run Redis with persistence (AOF) — or `INTAKE_MODE=direct`, which writes
PostgreSQL inside the request as before. If Redis fails during a request, that request falls back to the
direct path, so intake survives either store being down.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import redis

from bot.channels.messages import Attachment, InboundTurn
from bot.core.locks import KeptLock, LockKeeper
from bot.core.queue import PUMPS_KEY
from bot.core.redis_scripts import ScriptChannel

BUFFER_KEY = "bot:intake"
DEAD_KEY = "bot:intake:dead"
SCHEDULED_KEY = "bot:intake:scheduled"
WAKE_KEY = "bot:intake:wake"  # a token for the ingest pumps' BLPOP
SEEN_PREFIX = "bot:intake:seen:"
LOCK_KEY = "bot:lock:intake"

SEEN_TTL_SECONDS = 2 * 86400  # Twilio retries within minutes; PostgreSQL's unique MessageSid guards beyond
SCHEDULED_TTL_SECONDS = 30  # after this, a push schedules an ingest again even if the last enqueue was lost

DUPLICATE, SCHEDULE, QUEUED = -1, 1, 0

# KEYS: seen key, buffer list, scheduled flag, pumps set, wake list; ARGV: the turn, seen TTL, flag TTL.
# While a worker's ingest pump is alive (bot/worker/pumps.py) the push wakes it (one token at most waits)
# instead of scheduling an RQ job.
PUSH_SCRIPT = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then return -1 end
redis.call('RPUSH', KEYS[2], ARGV[1])
local now = redis.call('TIME')
if redis.call('ZCOUNT', KEYS[4], '(' .. (tonumber(now[1]) + tonumber(now[2]) / 1000000), '+inf') > 0 then
  if redis.call('LLEN', KEYS[5]) == 0 then redis.call('RPUSH', KEYS[5], '1') end
  return 0
end
if redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[3]) then return 1 end
return 0
"""

# KEYS: buffer list; ARGV: how many stored items to drop from its head, the first and the last of them.
# Drops nothing unless the head still holds exactly those items (a runner whose lock expired mid-batch must
# not trim turns that a later runner has not stored yet). Returns what is left.
TRIM_SCRIPT = """
local n = tonumber(ARGV[1])
if redis.call('LINDEX', KEYS[1], 0) == ARGV[2] and redis.call('LINDEX', KEYS[1], n - 1) == ARGV[3] then
  redis.call('LTRIM', KEYS[1], n, -1)
end
return redis.call('LLEN', KEYS[1])
"""


@dataclass(frozen=True)
class BufferedTurn:
    turn: InboundTurn
    received_at: datetime


def encode(turn: InboundTurn, received_at: float) -> str:
    fields = {"channel_message_id": turn.channel_message_id, "phone": turn.phone, "body": turn.body,
              "message_type": turn.message_type, "wa_id": turn.wa_id, "profile_name": turn.profile_name,
              "attachments": [asdict(a) for a in turn.attachments], "meta": turn.meta}
    return json.dumps({"v": 1, "at": received_at, "turn": fields}, ensure_ascii=False, separators=(",", ":"))


def decode(raw: bytes | str) -> BufferedTurn:
    """The turn as the webhook parsed it; raises ValueError (or KeyError/TypeError) on anything else."""
    item = json.loads(raw)
    if item.get("v") != 1:
        raise ValueError(f"unknown buffered turn version {item.get('v')!r}")
    fields = dict(item["turn"])
    fields["attachments"] = tuple(Attachment(**a) for a in fields.get("attachments") or ())
    return BufferedTurn(turn=InboundTurn(**fields),
                        received_at=datetime.fromtimestamp(float(item["at"]), tz=timezone.utc))


class IntakeBuffer:
    """The Redis side of the buffered intake (the webhook pushes, `bot.intake.ingest` drains)."""

    def __init__(self, client: redis.Redis, lock_seconds: float = 10, keeper: LockKeeper | None = None) -> None:
        self.client = client
        self.lock_seconds = lock_seconds
        # the intake lock lives lock_seconds unless its holder's process renews it (bot/core/locks.py): a run
        # killed mid-batch, or whose release failed while Redis was down, holds the next runs back that long
        # at most, also across a Redis restart with AOF (the expiry is stored as a moment, not a duration)
        self.keeper = keeper or LockKeeper(client, int(lock_seconds * 1000))
        # a second run of the push script never buffers a turn twice (it claims the MessageSid first): retry once
        self._push = ScriptChannel(client, PUSH_SCRIPT, retry=True)
        self._trim = client.register_script(TRIM_SCRIPT)

    def push(self, turn: InboundTurn) -> int:
        """Buffers a verified turn: DUPLICATE (this MessageSid was buffered before), SCHEDULE (the caller
        enqueues the ingest job) or QUEUED (one is already scheduled). Raises redis.RedisError."""
        keys = [SEEN_PREFIX + turn.channel_message_id, BUFFER_KEY, SCHEDULED_KEY, PUMPS_KEY, WAKE_KEY]
        args = [encode(turn, time.time()), SEEN_TTL_SECONDS, SCHEDULED_TTL_SECONDS]
        outcome, retried = self._push.run(keys, args)
        # A retry after a lost reply finds the MessageSid claimed by the first attempt, which may have been
        # the one to set the flag: schedule an ingest run to be sure (overlapping runs are safe).
        return SCHEDULE if retried and outcome == DUPLICATE else int(outcome)

    def peek(self, n: int) -> list[bytes]:
        return self.client.lrange(BUFFER_KEY, 0, n - 1)

    def drop(self, items: list[bytes]) -> int:
        """Removes `items`, read by `peek`, from the head (stored, or dead-lettered) if they are still there;
        returns how many items are left."""
        return int(self._trim(keys=[BUFFER_KEY], args=[len(items), items[0], items[-1]]))

    def wait(self, seconds: float) -> bool:
        """Waits up to `seconds` for a push's wake-up token (taking it); True if one came."""
        return self.client.blpop([WAKE_KEY], timeout=seconds) is not None

    def size(self) -> int:
        return int(self.client.llen(BUFFER_KEY))

    def clear_scheduled(self) -> None:
        """Called by the ingest job before it reads: a push after this schedules another run."""
        self.client.delete(SCHEDULED_KEY)

    def dead_letter(self, raw: bytes | str, error: str) -> None:
        """Keeps an item that cannot be stored (never dropped silently); `flask intake dead` lists them."""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        self.client.rpush(DEAD_KEY, json.dumps({"item": text, "error": error[:1000], "at": time.time()},
                                               ensure_ascii=False))

    def dead_letters(self) -> list[dict]:
        return [json.loads(raw) for raw in self.client.lrange(DEAD_KEY, 0, -1)]

    def retry_dead(self) -> int:
        """Moves every dead letter's item back to the buffer's tail; returns how many."""
        moved = 0
        while (raw := self.client.lpop(DEAD_KEY)) is not None:
            self.client.rpush(BUFFER_KEY, json.loads(raw)["item"])
            moved += 1
        return moved

    def lock(self) -> KeptLock:
        return KeptLock(self.client, self.keeper, LOCK_KEY)
