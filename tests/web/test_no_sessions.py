"""The bot keeps no browser sessions: no request opens one or sets a cookie (bot/app.py, NoSessions)."""
from flask import session
from flask.sessions import NullSession


def test_requests_open_no_session_and_set_no_cookie(app, client):
    response = client.get("/healthz", headers={"Cookie": "session=forged.value.here"})
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    with app.test_request_context("/webhooks/twilio/status"):
        assert isinstance(session._get_current_object(), NullSession)
