"""A Lua script run over a Redis connection of the calling thread's own (one per thread and client, shared by
all its scripts), outside redis-py's pool.

The hot paths' Redis calls (the webhook's push, a reply run's lock calls) are one script each, and redis-py
8's pool checkout (lock, poll for unread data, connection metrics) and release were over a third of such a
call's CPU. A connection that broke (Redis restarted, a timeout) is dropped; with `retry` the call is tried
once more on a fresh one, which only a script safe to run twice may ask for. A missing script (Redis flushed
or restarted) is loaded again. Errors are redis.RedisError.
"""
from __future__ import annotations

import os
import threading
import weakref

import redis
from redis.exceptions import NoScriptError

_threads = threading.local()  # per thread: {pool: connection} (gone with the pool), and the pid that opened them


def _own_connection(pool: redis.ConnectionPool):
    """This thread's connection to the pool's server, shared by every script channel of that pool: one per
    thread, not one per script (hosted Redis plans count connections)."""
    if getattr(_threads, "pid", None) != os.getpid():  # first use in this thread, or a forked child
        _threads.connections, _threads.pid = weakref.WeakKeyDictionary(), os.getpid()
    connection = _threads.connections.get(pool)
    if connection is None:
        connection = _threads.connections[pool] = pool.connection_class(**pool.connection_kwargs)
    return connection


def _drop_own_connection(pool: redis.ConnectionPool) -> None:
    connection = getattr(_threads, "connections", {}).pop(pool, None)
    if connection is not None:
        connection.disconnect()


class ScriptChannel:
    def __init__(self, client: redis.Redis, script: str, retry: bool = False) -> None:
        self._pool = client.connection_pool
        self._script = script
        self._sha = client.register_script(script).sha
        self._attempts = (0, 1) if retry else (1,)

    def run(self, keys: list, args: list) -> tuple[object, bool]:
        """(the script's reply, whether it took a second attempt)."""
        for attempt in self._attempts:
            connection = self._connection()
            try:
                try:
                    connection.send_command("EVALSHA", self._sha, len(keys), *keys, *args)
                    return connection.read_response(), attempt > 0
                except NoScriptError:
                    connection.send_command("EVAL", self._script, len(keys), *keys, *args)
                    return connection.read_response(), attempt > 0
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                self._drop()
                if attempt:
                    raise exc if isinstance(exc, redis.RedisError) else redis.ConnectionError(str(exc)) from exc
            except BaseException:
                self._drop()  # a reply half read would be the next call's answer
                raise
        raise AssertionError("unreachable")

    def __call__(self, keys: list, args: list) -> object:
        return self.run(keys, args)[0]

    def _connection(self):
        return _own_connection(self._pool)

    def _drop(self) -> None:
        _drop_own_connection(self._pool)
