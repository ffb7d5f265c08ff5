"""/readyz's view of the queue (issue 15): how long the oldest unanswered turn has waited (stored, or still in
the intake buffer), where turns are, and the workers registered and alive."""
import time

from bot.core.queue import RQTaskQueue
from bot.worker.main import BotWorker
from tests.conftest import send


def queue_view(client) -> dict:
    response = client.get("/readyz")
    assert response.status_code == 200
    return response.get_json()["queue"]


def test_an_idle_bot_shows_an_empty_queue(client):
    view = queue_view(client)
    assert view["oldest_unanswered_seconds"] == 0.0
    assert view["buffered"] == 0 and view["ready_users"] == 0
    assert view["workers_registered"] == 0 and view["workers_alive"] == 0


def test_a_stored_turn_nobody_answered_shows_its_age(client, redis_client):
    send(client, "+967712000901", "is anyone there")  # direct intake, no worker running
    time.sleep(1.1)
    view = queue_view(client)
    assert view["oldest_unanswered_seconds"] >= 1.0
    assert view["ready_users"] == 1


def test_a_buffered_turn_counts_from_when_it_was_received(make_app, redis_client):
    client = make_app(intake_mode="buffered").test_client()
    send(client, "+967712000902", "still in redis")
    time.sleep(1.1)
    view = queue_view(client)
    assert view["buffered"] == 1 and view["oldest_unanswered_seconds"] >= 1.0


def test_workers_alive_leaves_out_the_silent_ones(client, redis_client):
    worker = BotWorker(RQTaskQueue(redis_client).queues, connection=redis_client)
    worker.register_birth()
    try:
        assert queue_view(client)["workers_alive"] == 1
        assert RQTaskQueue(redis_client).workers_alive(within=0) == (1, 0), "a killed worker stays registered"
    finally:
        worker.register_death()
