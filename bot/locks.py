"""Per-user locks that keep one user's replies in order while different users proceed in parallel.

Redis locks across worker processes; in-process locks for the embedded mode. A lock has a time-to-live so a
killed worker cannot block its user forever; a job renews it between steps.
"""
from __future__ import annotations

import threading
from typing import Protocol

import redis


class UserLock(Protocol):
    def acquire(self) -> bool: ...
    def release(self) -> None: ...
    def renew(self) -> None: ...


class RedisUserLock:
    def __init__(self, client: redis.Redis, user_id: int, ttl: int) -> None:
        self._lock = client.lock(f"bot:lock:user:{user_id}", timeout=ttl)

    def acquire(self) -> bool:
        return self._lock.acquire(blocking=False)

    def release(self) -> None:
        try:
            self._lock.release()
        except redis.exceptions.LockError:  # expired and maybe taken over: nothing of ours to release
            pass

    def renew(self) -> None:
        self._lock.reacquire()


class RedisLocks:
    def __init__(self, client: redis.Redis, ttl: int) -> None:
        self.client, self.ttl = client, ttl

    def for_user(self, user_id: int) -> RedisUserLock:
        return RedisUserLock(self.client, user_id, self.ttl)


class LocalUserLock:
    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock

    def acquire(self) -> bool:
        return self._lock.acquire(blocking=False)

    def release(self) -> None:
        self._lock.release()

    def renew(self) -> None:
        pass


class LocalLocks:
    def __init__(self) -> None:
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def for_user(self, user_id: int) -> LocalUserLock:
        with self._guard:
            return LocalUserLock(self._locks.setdefault(user_id, threading.Lock()))
