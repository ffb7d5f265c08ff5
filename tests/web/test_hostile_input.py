"""Issue 15, item 4: every malformed request gets a 4xx before anything that could throw sees it, and no value the
database would refuse reaches it. One row per request that got a 5xx in the hostile run (31 of 1,209), in both
intake modes, and the status callback's values followed through to the message they update. The property-based
fuzz over both webhooks is tests/web/test_fuzz.py."""
from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from gunicorn.http.errors import InvalidChunkSize
from sqlalchemy import select
from werkzeug.serving import make_server

from bot.core.db import db
from bot.web.webhooks import error_code
from models import Message, MessageAttachment, MessageStatusEvent, User
from tests.conftest import PUBLIC_BASE_URL, inbound_params, post_signed, run_jobs, send, sign
from tests.fakes import ACCOUNT_SID, AUTH_TOKEN, status_params

MESSAGES, STATUS = "/webhooks/twilio/messages", "/webhooks/twilio/status"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["direct", "buffered"])
def hostile_app(request, make_app):
    return make_app(intake_mode=request.param)


def stored_turn(app, sid: str) -> Message | None:
    """The turn as PostgreSQL holds it, after the intake job in buffered mode."""
    run_jobs(app)
    with app.app_context(), db.session_scope() as session:
        turn = session.scalars(select(Message).where(Message.twilio_sid == sid)).one_or_none()
        if turn is not None:
            session.expunge(turn)
        return turn


# --- a multipart part without a name: TypeError while computing the signature, reachable unsigned -----------

NAMELESS_PART = (b"--B\r\nContent-Disposition: form-data\r\n\r\nno name\r\n"
                 b"--B\r\nContent-Disposition: form-data; name=\"Body\"\r\n\r\nhi\r\n--B--\r\n")


@pytest.mark.parametrize("path", [MESSAGES, STATUS])
@pytest.mark.parametrize("signature, expected", [("", 403), ("AAAAAAAAAAAAAAAAAAAAAAAAAAA=", 415)])
def test_multipart_with_a_nameless_part_is_4xx(hostile_app, path, signature, expected):
    response = hostile_app.test_client().post(path, data=NAMELESS_PART, content_type="multipart/form-data; boundary=B",
                                              headers={"X-Twilio-Signature": signature})
    assert response.status_code == expected


@pytest.mark.parametrize("content_type", ["multipart/form-data; boundary=B", "application/json", "text/plain", ""])
def test_a_signed_form_in_another_media_type_is_415(hostile_app, content_type):
    params = inbound_params("+967712000901", "hello")
    response = hostile_app.test_client().post(MESSAGES, data=b"{}", content_type=content_type or None,
                                              headers={"X-Twilio-Signature": sign(MESSAGES, params)})
    assert response.status_code == 415


# --- a malformed chunked body, through a real HTTP server ----------------------------------------------------

def raw_post(port: int, path: str, chunked_body: bytes) -> int:
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            "X-Twilio-Signature: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head.encode() + chunked_body)
        status_line = conn.makefile("rb").readline().decode()
    return int(status_line.split()[1])


@pytest.mark.parametrize("path", [MESSAGES, STATUS])
@pytest.mark.parametrize("chunked_body", [b"ZZ\r\nBody=hi\r\n0\r\n\r\n", b"-5\r\nBody=\r\n0\r\n\r\n",
                                          b"7\r\nBody=hi_no_terminator0\r\n\r\n"])
def test_malformed_chunked_body_is_400(hostile_app, path, chunked_body):
    server = make_server("127.0.0.1", 0, hostile_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert raw_post(server.server_port, path, chunked_body) == 400
    finally:
        server.shutdown()


@pytest.fixture
def gunicorn_port(settings, make_app):
    """The Procfile's web process (gunicorn, gthread) on a free port, against the test databases."""
    port = free_port()
    env = {**os.environ, "PORT": str(port), "WEB_CONCURRENCY": "1", "WEB_REUSE_PORT": "0", "BOT_ENV": "test",
           "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url, "INTAKE_MODE": "direct",
           "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
           "REMINDER_CHECK_SECONDS": "0"}
    proc = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py", "app:app"], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, "gunicorn exited"
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_malformed_chunked_body_through_gunicorn_is_400(gunicorn_port):
    """Production's server: gunicorn's chunk reader raises ParseException (not OSError) from inside the view."""
    for path in (MESSAGES, STATUS):
        for chunked_body in (b"ZZ\r\nBody=hi\r\n0\r\n\r\n", b"7\r\nBody=hi_no_terminator0\r\n\r\n"):
            assert raw_post(gunicorn_port, path, chunked_body) == 400, (path, chunked_body)


class _BrokenBody:
    """A request body whose reader fails as gunicorn's does on a bad chunk size (a ParseException, not OSError)."""

    def read(self, *args):
        raise InvalidChunkSize("ZZ")

    readline = read


def test_a_body_gunicorns_reader_refuses_is_400(hostile_app):
    response = hostile_app.test_client().post(MESSAGES, content_type="application/x-www-form-urlencoded",
                                              environ_overrides={"wsgi.input": _BrokenBody(),
                                                                 "wsgi.input_terminated": True},
                                              headers={"X-Twilio-Signature": "AAAA"})
    assert response.status_code == 400


# --- ErrorCode values int() refuses or the column cannot hold; a NUL in a key (JSONB refuses it) -------------

@pytest.mark.parametrize("raw, expected", [("63016", 63016), (" 30008 ", 30008), ("²", None), ("٣", None),
                                           ("9" * 40, None), ("-1", None), ("", None), (None, None),
                                           ("999999999", 999999999), ("1e5", None)])
def test_error_code(raw, expected):
    assert error_code(raw) == expected


@pytest.mark.parametrize("extra", [{"ErrorCode": "²"}, {"ErrorCode": "9" * 40}, {"ErrorCode": "\x00"},
                                   {"Bad\x00Key": "x"}, {"\x00": "\x00"}, {"ErrorMessage": "\x00" * 10},
                                   {"MessageStatus": "delivered\x00" + "x" * 50}])
def test_status_callback_values_reach_the_message_without_5xx(hostile_app, twilio, extra):
    """End to end: a real reply's SID, then a callback carrying the value; the message moves (or not) and the
    event keeps the raw values (NUL removed)."""
    client = hostile_app.test_client()
    response, _ = send(client, "+967712000910", "When does the festival open?")
    assert response.status_code == 200
    run_jobs(hostile_app)
    [sent] = twilio.sent_to("+967712000910")
    params = {**status_params(sent["sid"], "undelivered", "whatsapp:+967712000910"), **extra}
    assert post_signed(client, STATUS, params).status_code == 200
    with hostile_app.app_context(), db.session_scope() as session:
        message = session.scalars(select(Message).where(Message.twilio_sid == sent["sid"])).one()
        [event] = session.scalars(select(MessageStatusEvent).where(MessageStatusEvent.twilio_sid == sent["sid"]))
        assert message.error_code is None and event.error_code is None
        assert "\x00" not in repr(event.payload)
        if "MessageStatus" not in extra:
            assert message.status == "undelivered"


def test_a_real_error_code_is_kept(app, client, twilio):
    response, _ = send(client, "+967712000911", "hello")
    run_jobs(app)
    [sent] = twilio.sent_to("+967712000911")
    assert post_signed(client, STATUS, status_params(sent["sid"], "failed", "x", 63016)).status_code == 200
    with app.app_context(), db.session_scope() as session:
        assert session.scalar(select(Message.error_code).where(Message.twilio_sid == sent["sid"])) == 63016


def test_a_nul_in_an_inbound_key_or_value_is_stored_without_it(hostile_app):
    params = inbound_params("+967712000912", "hi\x00there", **{"Bad\x00Key": "v", "ButtonPayload": "p\x00ay"})
    assert post_signed(hostile_app.test_client(), MESSAGES, params).status_code == 200
    turn = stored_turn(hostile_app, params["MessageSid"])
    assert (turn.body, turn.meta["ButtonPayload"]) == ("hithere", "pay")


# --- every stored field has room for what Twilio sends ---------------------------------------------------------

def test_long_media_content_type_is_stored_not_dead_lettered(hostile_app, redis_client):
    content_type = "application/vnd.openxmlformats-officedocument.presentationml.slideshow;" + "x=y;" * 40
    params = inbound_params("+967712000913", "", NumMedia="1", MediaUrl0="https://api.twilio.com/m/1",
                            MediaContentType0=content_type, MessageType="")
    assert post_signed(hostile_app.test_client(), MESSAGES, params).status_code == 200
    turn = stored_turn(hostile_app, params["MessageSid"])
    assert turn is not None and len(turn.message_type) <= 20
    assert redis_client.llen("bot:intake:dead") == 0
    with hostile_app.app_context(), db.session_scope() as session:
        assert session.scalar(select(MessageAttachment.content_type)
                              .where(MessageAttachment.message_id == turn.id)) == content_type


def test_long_wa_id_and_profile_name_are_kept_whole(hostile_app):
    wa_id, name = "US." + "7" * 300, "ع" * 400
    params = inbound_params("+967712000914", "hello", WaId=wa_id, ProfileName=name)
    assert post_signed(hostile_app.test_client(), MESSAGES, params).status_code == 200
    turn = stored_turn(hostile_app, params["MessageSid"])
    assert (turn.meta["WaId"], turn.meta["ProfileName"]) == (wa_id, name)
    with hostile_app.app_context(), db.session_scope() as session:
        user = session.get(User, turn.user_id)
        assert (user.wa_id, user.display_name) == (wa_id[:255], name[:255])
