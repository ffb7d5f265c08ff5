"""The per-phone rate limit: past USER_RATE_LIMIT turns in a minute, one polite notice, then silence for the rest
of that minute; every turn stored. Counted in Redis (the workers) and in the database (the embedded mode); the
Redis count agrees across workers and when a turn is counted twice; organizers are not limited; 0 turns it off."""
from __future__ import annotations

import threading
import time

import pytest
import redis
from sqlalchemy import select

from bot.core.db import db
from bot.core.rate_limit import TurnCounter
from bot.i18n import catalog
from models import Message
from tests.conftest import REDIS_URL, run_jobs, send
from tests.dialog.seam import Chat

PHONE, ORGANIZER = "+967719800001", "+967719800002"
LIMIT = 3


def away_from_a_minute_boundary() -> None:
    """The windows are fixed minutes: a test's turns must not straddle two."""
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)


@pytest.mark.parametrize("redis_url", ["redis", None], ids=["redis", "database"])
def test_one_notice_per_window_then_silence_every_turn_stored(make_app, settings, redis_url):
    app = make_app(user_rate_limit=LIMIT, openai_api_key=None,
                   redis_url=settings.redis_url if redis_url else None)
    away_from_a_minute_boundary()
    chat = Chat(app, PHONE)
    answered = [chat.say(f"menu {i}") for i in range(LIMIT)]
    assert all(s.stored is not None and s.route[0] != "rate_limit" for s in answered)
    notice = chat.say("menu again")
    assert notice.route[:2] == ("rate_limit", "notice") and notice.body == catalog.say("rate_limited", "en")
    for text in ("hello?", "/help", "متى الحفلة"):
        quiet = chat.say(text)
        assert quiet.stored is None and quiet.route[:2] == ("rate_limit", "silent")
    with app.app_context(), db.session_scope() as session:
        stored = session.scalars(select(Message).where(Message.direction == "inbound")).all()
    assert len(stored) == LIMIT + 4 and {m.status for m in stored} == {"processed"}


def test_stop_takes_effect_over_the_limit_silently_and_organizers_are_not_limited(make_app):
    app = make_app(user_rate_limit=1, openai_api_key=None)
    away_from_a_minute_boundary()
    chat = Chat(app, PHONE)
    chat.walk("hi", "hi again")
    stopped = chat.say("إيقاف")
    assert stopped.stored is None and chat.user().opted_out_at is not None
    organizer = Chat(app, ORGANIZER)
    organizer.say("hi")
    with app.app_context(), db.session_scope() as session:
        session.get(type(organizer.user()), organizer.user().id).role = "organizer"
    assert all(organizer.say("/help").route[0] == "command" for _ in range(3))


def test_zero_turns_the_limit_off(make_app):
    app = make_app(user_rate_limit=0, openai_api_key=None)
    chat = Chat(app, PHONE)
    assert all(chat.say("menu").route[0] == "intent" for _ in range(25))


def test_the_redis_count_is_the_same_for_a_turn_counted_twice_and_shared_by_workers(redis_client):
    """A user's turns are answered one at a time (their lock), by whichever worker: the count is the workers'
    common one, and asking again for a turn (a retried job) does not count it twice."""
    workers = [TurnCounter(redis.Redis.from_url(REDIS_URL)) for _ in range(2)]
    positions = [workers[i % 2].position(7, message_id, 1000) for i, message_id in enumerate((10, 11, 12, 13))]
    assert positions == [1, 2, 3, 4]
    assert workers[1].position(7, 10, 1000) == 1 and workers[0].position(7, 14, 1000) == 5
    assert workers[0].position(7, 15, 1001) == 1, "a new window starts again"
    barrier, seen = threading.Barrier(10), {}

    def count(user_id: int) -> None:  # ten users at once, each on its own worker
        worker = TurnCounter(redis.Redis.from_url(REDIS_URL))
        barrier.wait()
        seen[user_id] = [worker.position(user_id, 1000 * user_id + n, 1000) for n in range(5)]

    threads = [threading.Thread(target=count, args=(100 + i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {100 + i: [1, 2, 3, 4, 5] for i in range(10)}
    assert 0 < redis_client.ttl("ratelimit:7:1000") <= 120


def test_end_to_end_through_the_webhook_and_an_rq_worker(make_app, twilio):
    app = make_app(user_rate_limit=LIMIT, openai_api_key=None)
    away_from_a_minute_boundary()
    client = app.test_client()
    for i in range(LIMIT + 3):
        send(client, PHONE, f"menu {i}")
    run_jobs(app)
    bodies = [m["body"] for m in twilio.sent_to(PHONE)]
    assert bodies.count(catalog.say("rate_limited", "en")) == 1
    assert len([b for b in bodies if b != catalog.say("rate_limited", "en")]) >= LIMIT
    with app.app_context(), db.session_scope() as session:
        routes = [m.route for m in session.scalars(select(Message).where(Message.direction == "inbound")
                                                   .order_by(Message.id))]
    assert routes[LIMIT:] == ["rate_limit"] * 3
