"""Counting a user's turns per fixed window in Redis, for the per-phone rate limit (bot/dialog/moderation/rate.py).

Each window is a sorted set of the turns' message ids: a turn's position is its rank, so asking again for the
same turn (a reply job run twice after a crash) gives the same answer, and any number of workers agree. The set
expires two windows after its last turn.
"""
from __future__ import annotations

import redis

from bot.core.redis_scripts import ScriptChannel

_POSITION = """
redis.call('ZADD', KEYS[1], 'NX', ARGV[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return redis.call('ZRANK', KEYS[1], ARGV[1]) + 1
"""


class TurnCounter:
    def __init__(self, client: redis.Redis, window_seconds: int = 60) -> None:
        self.window_seconds = window_seconds
        self._position = ScriptChannel(client, _POSITION, retry=True)  # safe twice: ZADD NX

    def position(self, user_id: int, message_id: int, window: int) -> int:
        """The turn's place (1 = first) among the user's turns counted in `window`; raises redis.RedisError."""
        return int(self._position([f"ratelimit:{user_id}:{window}"], [message_id, 2 * self.window_seconds]))
