"""Per-user locks that keep one user's replies in order while different users proceed in parallel.

Redis locks across worker processes; in-process locks for the embedded mode. A lock has a time-to-live so a
killed worker cannot block its user forever; a job renews it between steps.

An attempt that finds a user's Redis lock taken leaves a mark beside it (`bot:lock:user:<id>:again`), and the
holder's release reports it. A holder whose release reports no attempt knows that nobody came for the user
while it held them, so it need not look for turns that came meanwhile (`Replier.reply_to_user`,
bot/conversation/runs.py): whoever queues a turn afterwards finds the lock free.
"""
from __future__ import annotations

import secrets
import threading
from typing import Protocol

import redis

from bot.core.redis_scripts import ScriptChannel

LOCK_KEY = "bot:lock:user:"
AGAIN_SUFFIX = ":again"  # set by an attempt that found the lock taken; reported and cleared by the release


class UserLock(Protocol):
    def acquire(self) -> bool: ...

    def release(self) -> bool:
        """Lets the user go; True unless it is certain that nobody tried to take them meanwhile (then the
        caller need not look for turns that came in the meantime)."""

    def renew(self) -> None: ...


# KEYS: lock, mark. ARGV: token, ttl ms.
_ACQUIRE = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
    redis.call('del', KEYS[2])
    return 1
end
redis.call('set', KEYS[2], '1', 'PX', ARGV[2])
return 0
"""
# 0: released, nobody tried meanwhile; 1: released, someone did; -1: not ours any more (expired).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    redis.call('del', KEYS[1])
    return redis.call('del', KEYS[2])
end
return -1
"""
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
# Pops users off a ready list until one's lock is free and takes it: one round trip for the common case.
# KEYS: the list. ARGV: token, ttl ms, lock key prefix, how many to pop at most. Returns the user id taken,
# nil when the list is empty, or 0 when every user popped was held (the caller asks again). The lock
# keys are built here, from the ids popped (a standalone Redis; RQ needs one anyway).
_TAKE_READY = """
for _ = 1, tonumber(ARGV[4]) do
    local user = redis.call('lpop', KEYS[1])
    if not user then
        return nil
    end
    local key = ARGV[3] .. user
    if redis.call('set', key, ARGV[1], 'NX', 'PX', ARGV[2]) then
        redis.call('del', key .. '""" + AGAIN_SUFFIX + """')
        return user
    end
    redis.call('set', key .. '""" + AGAIN_SUFFIX + """', '1', 'PX', ARGV[2])
end
return 0
"""
TAKE_BATCH = 20


class RedisUserLock:
    def __init__(self, locks: RedisLocks, user_id: int, token: str | None = None) -> None:
        self._locks, self._token = locks, token or secrets.token_hex(16)
        self._keys = [f"{LOCK_KEY}{user_id}", f"{LOCK_KEY}{user_id}{AGAIN_SUFFIX}"]

    def acquire(self) -> bool:
        return self._locks.acquire_script(self._keys, [self._token, self._locks.ttl_ms]) == 1

    def release(self) -> bool:
        # an expired lock (-1) may have been taken over and missed turns: the caller looks, to be safe
        return self._locks.release_script(self._keys, [self._token]) != 0

    def renew(self) -> None:
        if not self._locks.renew_script(self._keys[:1], [self._token, self._locks.ttl_ms]):
            raise redis.exceptions.LockNotOwnedError(f"lost the lock {self._keys[0]} before renewing it")


class RedisLocks:
    def __init__(self, client: redis.Redis, ttl: int) -> None:
        self.client, self.ttl, self.ttl_ms = client, ttl, int(ttl * 1000)
        # on connections of each thread's own (bot/core/redis_scripts.py); the release and renewal check the token,
        # so running them twice is safe
        self.acquire_script = ScriptChannel(client, _ACQUIRE)
        self.release_script = ScriptChannel(client, _RELEASE, retry=True)
        self.renew_script = ScriptChannel(client, _RENEW, retry=True)
        self._take_ready = ScriptChannel(client, _TAKE_READY)

    def for_user(self, user_id: int) -> RedisUserLock:
        return RedisUserLock(self, user_id)

    def take_ready(self, list_key: str) -> tuple[int, RedisUserLock] | None:
        """The first user on the list whose lock is free, taken off the list with the lock held; None when
        the list is empty. Users popped whose lock was taken leave the holder a mark (see the module)."""
        while True:
            token = secrets.token_hex(16)
            user = self._take_ready([list_key], [token, self.ttl_ms, LOCK_KEY, TAKE_BATCH])
            if user is None:
                return None
            if user != 0:  # 0: a batch of held users, popped and marked; look further down the list
                return int(user), RedisUserLock(self, int(user), token)


class LocalUserLock:
    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock

    def acquire(self) -> bool:
        return self._lock.acquire(blocking=False)

    def release(self) -> bool:
        self._lock.release()
        return True  # no marks in-process: the caller always looks for turns that came meanwhile

    def renew(self) -> None:
        pass


class LocalLocks:
    def __init__(self) -> None:
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def for_user(self, user_id: int) -> LocalUserLock:
        with self._guard:
            return LocalUserLock(self._locks.setdefault(user_id, threading.Lock()))
