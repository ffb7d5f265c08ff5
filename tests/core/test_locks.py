"""Per-user Redis locks (bot/core/locks.py) on a real Redis: the mark an attempt leaves on a held user, what the
release reports, and taking users off the ready list with their lock in one round trip."""
from __future__ import annotations

import time

import pytest
import redis

from bot.core.locks import TAKE_BATCH, LocalLocks, RedisLocks
from bot.core.queue import READY_KEY


@pytest.fixture
def locks(redis_client) -> RedisLocks:
    return RedisLocks(redis_client, ttl=30)


def test_a_release_with_no_attempt_meanwhile_reports_none(locks, redis_client):
    lock = locks.for_user(7)
    assert lock.acquire()
    assert 29_000 < redis_client.pttl("bot:lock:user:7") <= 30_000
    assert lock.release() is False
    assert not redis_client.exists("bot:lock:user:7")
    assert locks.for_user(7).acquire(), "free again"


def test_an_attempt_on_a_held_user_is_reported_by_the_release_once(locks, redis_client):
    holder, other = locks.for_user(7), locks.for_user(7)
    assert holder.acquire()
    assert not other.acquire()
    assert redis_client.exists("bot:lock:user:7:again")
    assert holder.release() is True
    assert not redis_client.exists("bot:lock:user:7:again"), "the mark is consumed"
    assert holder.acquire()
    assert holder.release() is False, "a new term starts without the old mark"


def test_a_lock_that_expired_is_not_released_for_its_new_holder_and_reports_an_attempt(redis_client):
    short = RedisLocks(redis_client, ttl=0.05)
    first = short.for_user(8)
    assert first.acquire()
    short.keeper.let_go("bot:lock:user:8")  # its holder's process died: nobody renews it
    time.sleep(0.1)
    second = short.for_user(8)
    assert second.acquire()
    assert first.release() is True, "not ours any more: the caller must look for turns it may have missed"
    assert redis_client.exists("bot:lock:user:8"), "the new holder's lock stands"
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        first.renew()
    second.renew()
    assert second.release() is False


def test_renew_restores_the_full_time_to_live(locks, redis_client):
    lock = locks.for_user(9)
    assert lock.acquire()
    redis_client.pexpire("bot:lock:user:9", 1_000)
    lock.renew()
    assert redis_client.pttl("bot:lock:user:9") > 29_000
    lock.release()


def test_taking_a_ready_user_skips_and_marks_the_held_ones(locks, redis_client):
    redis_client.rpush(READY_KEY, 1, 2, 3)
    held = locks.for_user(1)
    assert held.acquire()
    user_id, lock = locks.take_ready(READY_KEY)
    assert user_id == 2 and redis_client.get("bot:lock:user:2") is not None
    assert redis_client.lrange(READY_KEY, 0, -1) == [b"3"], "1 was popped: its holder will look again"
    assert held.release() is True
    assert not locks.for_user(2).acquire(), "taken with its lock"
    assert lock.release() is True  # the attempt just above
    user_id, lock = locks.take_ready(READY_KEY)
    assert user_id == 3 and lock.release() is False
    assert locks.take_ready(READY_KEY) is None


def test_taking_looks_past_more_held_users_than_one_round_trip_pops(locks, redis_client):
    holders = [locks.for_user(100 + i) for i in range(TAKE_BATCH * 2 + 3)]
    assert all(h.acquire() for h in holders)
    redis_client.rpush(READY_KEY, *[100 + i for i in range(len(holders))], 5)
    user_id, lock = locks.take_ready(READY_KEY)
    assert user_id == 5 and redis_client.llen(READY_KEY) == 0
    assert all(h.release() is True for h in holders)
    assert lock.release() is False


def test_in_process_locks_always_ask_for_a_look_after_the_release():
    lock = LocalLocks().for_user(1)
    assert lock.acquire()
    assert lock.release() is True


def test_the_scripts_survive_a_flushed_script_cache(locks, redis_client):
    lock = locks.for_user(11)
    assert lock.acquire()
    redis_client.script_flush()  # Redis restarted or flushed: EVALSHA finds no script, EVAL loads it
    assert lock.release() is False
    redis_client.rpush(READY_KEY, 11)
    redis_client.script_flush()
    user_id, taken = locks.take_ready(READY_KEY)
    assert user_id == 11 and taken.release() is False


def test_a_killed_connection_is_replaced(locks, redis_client):
    """Each thread's lock calls use a connection of its own: one Redis closed is dropped. The release and the
    renewal (token-checked, safe twice) are retried on a fresh connection; taking a user is not (a second run
    could pop another user), so it raises and the next call works."""
    lock = locks.for_user(12)
    assert lock.acquire()
    redis_client.client_kill_filter(_type="normal", skipme=True)
    lock.renew()
    redis_client.client_kill_filter(_type="normal", skipme=True)
    assert lock.release() is False and not redis_client.exists("bot:lock:user:12")
    redis_client.rpush(READY_KEY, 12)
    assert locks.take_ready(READY_KEY)[0] == 12
    redis_client.rpush(READY_KEY, 13)
    redis_client.client_kill_filter(_type="normal", skipme=True)
    with pytest.raises(redis.ConnectionError):
        locks.take_ready(READY_KEY)
    assert redis_client.lrange(READY_KEY, 0, -1) == [b"13"], "nothing was popped"
    assert locks.take_ready(READY_KEY)[0] == 13


def test_the_scripts_share_one_connection_per_thread(locks, redis_client):
    """Hosted Redis plans count connections: a thread's lock calls all go over one connection of its own."""
    before = len(redis_client.client_list())
    lock = locks.for_user(14)
    assert lock.acquire()
    lock.renew()
    assert lock.release() is False
    redis_client.rpush(READY_KEY, 14)
    assert locks.take_ready(READY_KEY)[1].release() is False
    assert len(redis_client.client_list()) == before + 1


def test_the_keeper_renews_a_held_lock_for_as_long_as_its_holder_works(redis_client):
    """A reply that takes longer than the time-to-live (a slow LLM) keeps its user: the holder's process renews
    the lock every third of it, with no call from the holder."""
    short = RedisLocks(redis_client, ttl=0.3)
    lock = short.for_user(20)
    assert lock.acquire()
    time.sleep(1.0)
    assert redis_client.exists("bot:lock:user:20"), "the keeper let a held lock expire"
    assert not short.for_user(20).acquire()
    assert lock.release() is True  # the attempt just above


def test_a_dead_holders_lock_frees_its_user_within_the_time_to_live(redis_client):
    """SIGKILL stops the keeper with its process: simulated by a keeper that forgets the lock."""
    short = RedisLocks(redis_client, ttl=0.3)
    assert short.for_user(21).acquire()
    short.keeper.let_go("bot:lock:user:21")
    time.sleep(0.5)
    assert RedisLocks(redis_client, ttl=30).for_user(21).acquire(), "still held by a dead holder"


def test_a_release_that_fails_while_redis_is_down_strands_nobody(redis_client, monkeypatch):
    short = RedisLocks(redis_client, ttl=0.3)
    lock = short.for_user(22)
    assert lock.acquire()

    def redis_down(keys, args):
        raise redis.ConnectionError("Redis is restarting")
    monkeypatch.setattr(short, "release_script", redis_down)
    with pytest.raises(redis.ConnectionError):
        lock.release()
    assert short.keeper.held() == [], "the keeper would renew a lock nobody holds"
    time.sleep(0.5)
    assert not redis_client.exists("bot:lock:user:22")


def test_users_taken_off_the_ready_list_are_renewed_too(redis_client):
    short = RedisLocks(redis_client, ttl=0.3)
    redis_client.rpush(READY_KEY, 23)
    user_id, lock = short.take_ready(READY_KEY)
    time.sleep(0.8)
    assert redis_client.exists("bot:lock:user:23")
    assert lock.release() is False
    assert short.keeper.held() == []


def test_the_keeper_forgets_a_lock_that_was_taken_over(locks, redis_client):
    lock = locks.for_user(24)
    assert lock.acquire()
    redis_client.set("bot:lock:user:24", "another holder")  # it expired while Redis was out of reach
    assert locks.keeper.renew_all() == 0
    assert locks.keeper.held() == [] and redis_client.get("bot:lock:user:24") == b"another holder"
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        lock.renew()


def test_the_keeper_thread_ends_when_nothing_is_held(redis_client):
    short = RedisLocks(redis_client, ttl=0.3)
    lock = short.for_user(25)
    assert lock.acquire()
    thread = short.keeper._thread
    assert thread is not None and thread.is_alive()
    lock.release()
    thread.join(1.0)
    assert not thread.is_alive()
    assert short.for_user(25).acquire() and short.keeper._thread.is_alive(), "a new hold starts it again"


def test_the_intake_lock_is_renewed_while_held_and_expires_after_its_holder(redis_client):
    from bot.intake.buffer import LOCK_KEY, IntakeBuffer
    buffer = IntakeBuffer(redis_client, lock_seconds=0.3)
    lock = buffer.lock()
    assert lock.acquire(blocking=False)
    assert not buffer.lock().acquire(blocking=False)
    time.sleep(0.8)
    lock.reacquire()  # still ours
    assert 0 < redis_client.pttl(LOCK_KEY) <= 300
    buffer.keeper.let_go(LOCK_KEY)  # the ingest run was killed
    time.sleep(0.5)
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        lock.reacquire()
    assert buffer.lock().acquire(blocking=False), "a dead run's intake lock held the next runs back"
