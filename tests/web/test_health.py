"""Liveness (/healthz) and readiness (/readyz: the database and Redis answer), quickly even when down."""
import time

import pytest


def timed_get(client, path):
    started = time.monotonic()
    response = client.get(path)
    return response, time.monotonic() - started


def test_healthz_is_200_json(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.is_json and response.get_json() == {"status": "ok"}


def test_readyz_ok_when_database_and_redis_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["down"] == []
    assert body["checks"] == {"database": "ok", "redis": "ok"}


@pytest.mark.parametrize("changes, down", [
    ({"redis_url": "redis://127.0.0.1:1/0"}, "redis"),
    ({"database_url": "postgresql+psycopg2://postgres@127.0.0.1:1/nope"}, "database"),
])
def test_readyz_503_names_what_is_down_quickly(make_app, changes, down):
    app = make_app(**changes)
    client = app.test_client()
    for _ in range(2):  # a second probe must not hang on a broken pooled connection either
        response, elapsed = timed_get(client, "/readyz")
        assert response.status_code == 503
        body = response.get_json()
        assert body["status"] == "unavailable" and body["down"] == [down]
        assert body["checks"][down] == "down"
        assert elapsed < 3.0, f"/readyz took {elapsed:.1f}s"
    response, elapsed = timed_get(client, "/healthz")
    assert response.status_code == 200 and elapsed < 1.0, "liveness does no I/O"


def test_readyz_without_redis_reports_not_configured(make_app):
    """The embedded mode has no Redis: that is not a reason to be unready."""
    client = make_app(redis_url=None).test_client()
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "redis": "not configured"}
