"""Per-user locks that keep one user's replies in order while different users proceed in parallel.

Redis locks across worker processes; in-process locks for the embedded mode. A Redis lock has a short
time-to-live (USER_LOCK_SECONDS, 10 s) and a `LockKeeper` thread in the holder's process renews every lock the
process holds every third of it, for as long as the holder works (a slow LLM call included). A holder that
dies (SIGKILL, OOM, a lost host) stops renewing, so its users are free again within the time-to-live, and a
release that failed (Redis down at that moment) strands nobody: the keeper forgets the lock first. Every
renewal checks the holder's token, so a lock that expired and was taken over is never extended by its
former holder (which learns of it at its next step: `renew` raises).

An attempt that finds a user's Redis lock taken leaves a mark beside it (`bot:lock:user:<id>:again`), and the
holder's release reports it. A holder whose release reports no attempt knows that nobody came for the user
while it held them, so it need not look for turns that came meanwhile (`Replier.reply_to_user`,
bot/conversation/runs.py): whoever queues a turn afterwards finds the lock free.
"""
from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from typing import Protocol

import redis

from bot.core.redis_scripts import ScriptChannel

log = logging.getLogger(__name__)

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
# KEYS: the locks held. ARGV: ttl ms, then each lock's token. Returns 1 per lock renewed, 0 per lock lost.
_RENEW_MANY = """
local renewed = {}
for i, key in ipairs(KEYS) do
    if redis.call('get', key) == ARGV[i + 1] then
        redis.call('pexpire', key, ARGV[1])
        renewed[i] = 1
    else
        renewed[i] = 0
    end
end
return renewed
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
        taken = self._locks.acquire_script(self._keys, [self._token, self._locks.ttl_ms]) == 1
        if taken:
            self._locks.keeper.hold(self._keys[0], self._token)
        return taken

    def release(self) -> bool:
        self._locks.keeper.let_go(self._keys[0])  # first: a release that fails must not leave it renewed
        # an expired lock (-1) may have been taken over and missed turns: the caller looks, to be safe
        return self._locks.release_script(self._keys, [self._token]) != 0

    def renew(self) -> None:
        if not self._locks.renew_script(self._keys[:1], [self._token, self._locks.ttl_ms]):
            raise redis.exceptions.LockNotOwnedError(f"lost the lock {self._keys[0]} before renewing it")


class LockKeeper:
    """Renews every lock this process holds, in one round trip every third of the time-to-live, from a daemon
    thread that runs while there is something to renew. A lock found taken over (it expired: Redis was out of
    reach longer than the time-to-live) is forgotten; its holder finds out at its next `renew`. A Redis error
    is logged and the next round tries again: the lock lives on for the rest of its time-to-live meanwhile."""

    def __init__(self, client: redis.Redis, ttl_ms: int) -> None:
        self.ttl_ms, self.interval = ttl_ms, ttl_ms / 3000
        self._renew = ScriptChannel(client, _RENEW_MANY, retry=True)
        self._held: dict[str, str] = {}  # lock key -> token
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def hold(self, key: str, token: str) -> None:
        with self._guard:
            self._held[key] = token
            if self._thread is None or self._pid != os.getpid():  # none yet, or this is a forked child
                self._thread, self._pid = threading.Thread(target=self._run, name="lock-keeper", daemon=True), \
                    os.getpid()
                self._thread.start()

    def let_go(self, key: str) -> None:
        with self._guard:
            self._held.pop(key, None)

    def held(self) -> list[str]:
        with self._guard:
            return list(self._held)

    def renew_all(self) -> int:
        """One round: renews every lock held; returns how many it renewed."""
        with self._guard:
            held = list(self._held.items())
        if not held:
            return 0
        renewed = self._renew([key for key, _ in held], [self.ttl_ms, *(token for _, token in held)])
        for (key, token), ok in zip(held, renewed, strict=True):
            if not ok:
                with self._guard:
                    if self._held.get(key) != token:
                        continue  # released (or taken again) while this round ran: not lost
                    del self._held[key]
                log.warning("lock %s expired while held (Redis out of reach?); its holder stops at its next step",
                            key)
        return sum(renewed)

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            with self._guard:
                if not self._held:
                    self._thread = None
                    return
            try:
                self.renew_all()
            except Exception as exc:  # Redis down: the locks live on for their TTL; the next round retries
                log.warning("could not renew %d lock(s): %s", len(self.held()), exc)


class KeptLock:
    """A token lock on one key that the `LockKeeper` renews while it is held (the buffered intake's lock), with
    the part of redis-py's `Lock` interface that bot/intake/ingest.py uses."""

    def __init__(self, client: redis.Redis, keeper: LockKeeper, key: str) -> None:
        self._client, self._keeper, self._key = client, keeper, key
        self._token = secrets.token_hex(16)

    def acquire(self, blocking: bool = False) -> bool:
        if not self._client.set(self._key, self._token, nx=True, px=self._keeper.ttl_ms):
            return False
        self._keeper.hold(self._key, self._token)
        return True

    def reacquire(self) -> None:
        """Restores the full time-to-live; raises LockNotOwnedError if the lock expired and was taken over."""
        if not self._client.eval(_RENEW, 1, self._key, self._token, self._keeper.ttl_ms):
            self._keeper.let_go(self._key)
            raise redis.exceptions.LockNotOwnedError(f"lost the lock {self._key}")

    def release(self) -> None:
        self._keeper.let_go(self._key)
        if self._client.eval(_RELEASE, 2, self._key, self._key + AGAIN_SUFFIX, self._token) == -1:
            raise redis.exceptions.LockNotOwnedError(f"the lock {self._key} had expired")


class RedisLocks:
    def __init__(self, client: redis.Redis, ttl: float, keeper: LockKeeper | None = None) -> None:
        self.client, self.ttl, self.ttl_ms = client, ttl, int(ttl * 1000)
        self.keeper = keeper or LockKeeper(client, self.ttl_ms)
        # on connections of each thread's own (bot/core/redis_scripts.py); the release and renewal check the token,
        # so running them twice is safe
        self.acquire_script = ScriptChannel(client, _ACQUIRE)
        self.release_script = ScriptChannel(client, _RELEASE, retry=True)
        self.renew_script = ScriptChannel(client, _RENEW, retry=True)
        self._take_ready = ScriptChannel(client, _TAKE_READY)

    def for_user(self, user_id: int) -> RedisUserLock:
        return RedisUserLock(self, user_id)

    @staticmethod
    def key_for(user_id: int) -> str:
        return f"{LOCK_KEY}{user_id}"

    def take_ready(self, list_key: str) -> tuple[int, RedisUserLock] | None:
        """The first user on the list whose lock is free, taken off the list with the lock held; None when
        the list is empty. Users popped whose lock was taken leave the holder a mark (see the module)."""
        while True:
            token = secrets.token_hex(16)
            user = self._take_ready([list_key], [token, self.ttl_ms, LOCK_KEY, TAKE_BATCH])
            if user is None:
                return None
            if user != 0:  # 0: a batch of held users, popped and marked; look further down the list
                self.keeper.hold(f"{LOCK_KEY}{int(user)}", token)
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
