"""Status callbacks: the outbound message found by MessageSid moves only forwards in STATUS_RANK
(queued < sent < delivered < read; failed/undelivered keep Twilio's ErrorCode); late or repeated callbacks
never move it backwards; unknown SIDs are answered 200 and kept for when the SID is stored."""
import threading
import time

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from bot.core.db import db
from bot.delivery import status as bot_status
from bot.delivery.sending import _mark_submitted
from models import STATUS_RANK, Message, MessageStatusEvent
from models.base import utcnow
from tests.conftest import inbound_params, load_payload, post_signed, run_jobs, send
from tests.fakes import AUTH_TOKEN, status_params

STATUS_PATH = "/webhooks/twilio/status"


def outbound_reply(app, client, twilio, phone: str) -> tuple[str, str]:
    """Sends an inbound turn, lets the worker answer it; returns (twilio_sid, 'whatsapp:'+phone)."""
    response, _ = send(client, phone, "When does the festival open?")
    assert response.status_code == 200
    run_jobs(app)
    sent = twilio.sent_to(phone)
    assert len(sent) == 1
    return sent[0]["sid"], f"whatsapp:{phone}"


def row(session, sid: str):
    return session.execute(select(Message.status, Message.status_rank, Message.error_code, Message.direction)
                           .where(Message.twilio_sid == sid)).one()


def events(session, sid: str) -> list[tuple[str, int | None]]:
    return [tuple(r) for r in session.execute(select(MessageStatusEvent.status, MessageStatusEvent.error_code)
                                              .where(MessageStatusEvent.twilio_sid == sid)
                                              .order_by(MessageStatusEvent.id))]


def test_reply_is_stored_with_its_sid_as_queued(app, client, session, twilio):
    sid, _ = outbound_reply(app, client, twilio, "+967712100001")
    assert row(session, sid) == ("queued", STATUS_RANK["queued"], None, "outbound")


# (callbacks as (status, error_code) in arrival order, expected final status, expected error_code)
SEQUENCES = {
    "in order": ([("sent", None), ("delivered", None), ("read", None)], "read", None),
    "reversed": ([("read", None), ("delivered", None), ("sent", None)], "read", None),
    "repeated": ([("sent", None), ("delivered", None), ("delivered", None), ("sent", None),
                  ("delivered", None)], "delivered", None),
    "late queued and accepted": ([("sent", None), ("queued", None), ("accepted", None)], "sent", None),
    "failed 63016": ([("sent", None), ("failed", 63016)], "failed", 63016),
    "undelivered after sent": ([("sent", None), ("undelivered", 63024)], "undelivered", 63024),
    "sent after failed": ([("failed", 63016), ("sent", None)], "failed", 63016),
    "failed after read": ([("read", None), ("failed", 63016)], "read", None),
    # STATUS_RANK puts delivered (7) above failed (6): a late 'delivered' wins (error_code left unchecked)
    "delivered after failed": ([("failed", 63016), ("delivered", None)], "delivered", ...),
    "unknown status word": ([("sent", None), ("teleported", None)], "sent", None),
}


@pytest.mark.parametrize("name", SEQUENCES)
def test_callback_sequences_only_move_forwards(app, client, session, twilio, name):
    callbacks, final, code = SEQUENCES[name]
    sid, to = outbound_reply(app, client, twilio, "+967712100002")
    seen_ranks = [STATUS_RANK["queued"]]
    for state, error_code in callbacks:
        response = post_signed(client, STATUS_PATH, status_params(sid, state, to, error_code))
        assert response.status_code == 200
        seen_ranks.append(row(session, sid).status_rank)
        assert seen_ranks[-1] >= seen_ranks[-2], f"status moved backwards after {state!r}"
    status, rank, error_code, direction = row(session, sid)
    assert (status, rank, direction) == (final, STATUS_RANK[final], "outbound")
    if code is not ...:
        assert error_code == code
    assert events(session, sid) == callbacks, "every callback is kept as an event, in arrival order"


def test_recorded_failed_63016_payload_sets_failed_and_error_code(app, client, session, twilio):
    sid, to = outbound_reply(app, client, twilio, "+967712100003")
    post_signed(client, STATUS_PATH, status_params(sid, "sent", to))
    payload = load_payload("status_failed_63016.json")
    payload.update(MessageSid=sid, SmsSid=sid, To=to)
    assert post_signed(client, STATUS_PATH, payload).status_code == 200
    assert row(session, sid)[:3] == ("failed", STATUS_RANK["failed"], 63016)
    stored = session.scalars(select(MessageStatusEvent).where(MessageStatusEvent.twilio_sid == sid,
                                                              MessageStatusEvent.status == "failed")).one()
    assert stored.error_code == 63016
    assert stored.payload["ChannelInstallSid"] == payload["ChannelInstallSid"]


def failed_message_error(session, sid) -> str | None:
    session.expire_all()
    return session.scalars(select(Message.error_message).where(Message.twilio_sid == sid)).one()


def test_a_failed_message_carries_the_meaning_of_its_error_code(app, client, session, twilio):
    sid, to = outbound_reply(app, client, twilio, "+967712100005")
    payload = {**load_payload("status_failed_63016.json"), "MessageSid": sid, "SmsSid": sid, "To": to}
    post_signed(client, STATUS_PATH, payload)
    assert failed_message_error(session, sid) == ("Twilio error 63016: outside the 24-hour window: only an "
                                                  "approved template can be sent")


@pytest.mark.parametrize("field", ["ErrorMessage", "ChannelStatusMessage"])
def test_a_failed_message_keeps_the_text_twilio_sent(app, client, session, twilio, field):
    sid, to = outbound_reply(app, client, twilio, f"+96771210000{6 + (field == 'ErrorMessage')}")
    params = {**status_params(sid, "undelivered", to), "ErrorCode": "63032", field: "User's number is part of "
              "an experiment"}
    post_signed(client, STATUS_PATH, params)
    assert failed_message_error(session, sid) == "User's number is part of an experiment"
    assert row(session, sid)[2] == 63032


def test_unknown_sid_is_200_and_kept_as_event(app, client, session, twilio):
    sid, to = outbound_reply(app, client, twilio, "+967712100004")
    unknown = "SM" + "0" * 31 + "9"
    response = post_signed(client, STATUS_PATH, status_params(unknown, "delivered", "whatsapp:+967712100099"))
    assert response.status_code == 200
    assert events(session, unknown) == [("delivered", None)]
    assert session.scalar(select(func.count()).select_from(Message).where(Message.twilio_sid == unknown)) == 0
    assert row(session, sid).status == "queued", "another message's status must not change"


def submitting_part(client, session, phone: str) -> Message:
    """An outbound part claimed for its REST call (`submitting`, no SID yet), answering a turn from `phone`."""
    send(client, phone, "hello")  # a user and a conversation for the outbound row
    inbound = session.scalars(select(Message)).one()
    with db.session_scope() as s:
        part = Message(conversation_id=inbound.conversation_id, user_id=inbound.user_id, direction="outbound",
                       role="assistant", body="hi", status="submitting", status_rank=STATUS_RANK["submitting"],
                       reply_to_id=inbound.id)
        s.add(part)
    return part


@pytest.mark.parametrize("callbacks, final, code", [
    ([("delivered", None), ("read", None)], "read", None),
    ([("read", None), ("sent", None)], "read", None),
    ([("sent", None), ("failed", 63016)], "failed", 63016),
    ([("queued", None)], "queued", None),
])
def test_callback_before_sid_is_stored_is_applied_when_it_is(app, client, session, callbacks, final, code):
    """The callback beats the REST call's answer: it is kept, then applied by `_mark_submitted`."""
    early_sid = "SM" + "e" * 32
    with app.app_context():
        part = submitting_part(client, session, "+967712100005")
        for state, error_code in callbacks:  # through the real endpoint: unknown SID yet, still 200
            response = post_signed(client, STATUS_PATH, status_params(early_sid, state, "whatsapp:+967712100005",
                                                                      error_code))
            assert response.status_code == 200
        assert session.scalar(select(func.count()).select_from(Message)
                              .where(Message.twilio_sid == early_sid)) == 0
        with db.session_scope() as s:
            _mark_submitted(s, s.get(Message, part.id), early_sid, "queued")
    assert row(session, early_sid)[:3] == (final, STATUS_RANK[final], code)


def test_a_callback_arriving_while_the_sid_is_stored_waits_and_is_applied(app, client, session):
    """`store_sid` stores the SID and reads the early callbacks in one UPDATE, committed later with the rest
    of the sender's step. A callback arriving meanwhile could neither see the uncommitted SID nor be seen by
    the UPDATE; the SID's lock makes it wait for the commit, then find the SID."""
    sid = "SM" + "f" * 32
    recorded = threading.Event()

    def callback():
        with app.app_context(), db.session_scope() as s:
            bot_status.record_callback(s, sid, "delivered", None, {"MessageSid": sid})
        recorded.set()

    with app.app_context():
        part = submitting_part(client, session, "+967712100007")
        thread = threading.Thread(target=callback)
        with db.session_scope() as sender:
            bot_status.store_sid(sender, part.id, sid, "queued", utcnow())
            thread.start()
            assert not recorded.wait(0.5), "the callback should wait for the SID's lock"
        thread.join(10)
    assert recorded.is_set()
    assert row(session, sid)[:2] == ("delivered", STATUS_RANK["delivered"])
    assert events(session, sid) == [("delivered", None)]


def test_a_sid_stored_while_a_callback_holds_its_lock_sees_that_callback(app, client, session):
    """The other order: a callback for the SID is being recorded (lock held, event not yet committed) when the
    sender stores the SID. The sender's lock and UPDATE go in one round trip; the UPDATE must still read with a
    snapshot taken after the lock was granted, so it finds the event the callback committed meanwhile."""
    sid = "SM" + "d" * 32
    stored = threading.Event()

    def sender(part_id):
        with app.app_context(), db.session_scope() as s:
            bot_status.store_sid(s, part_id, sid, "queued", utcnow())
        stored.set()

    with app.app_context():
        part = submitting_part(client, session, "+967712100008")
        with db.session_scope() as callback:
            bot_status.lock_sid(callback, sid)
            callback.add(MessageStatusEvent(twilio_sid=sid, status="read", error_code=None, payload={}))
            callback.flush()
            thread = threading.Thread(target=sender, args=(part.id,))
            thread.start()
            assert not stored.wait(0.5), "the sender should wait for the SID's lock"
        thread.join(10)
    assert stored.is_set()
    assert row(session, sid)[:2] == ("read", STATUS_RANK["read"])


def test_record_callback_for_unknown_sid_stores_event_only(app, session):
    """`record_callback` on a SID nobody has: stored, nothing moved; `apply_early_callbacks` with no events
    is a no-op."""
    with app.app_context(), db.session_scope() as s:
        bot_status.record_callback(s, "SMnobody", "read", None, {"MessageSid": "SMnobody"})
        bot_status.apply_early_callbacks(s, "SMnoevents")
        assert bot_status.advance(s, "SMnobody", "read", None) is False
    assert events(session, "SMnobody") == [("read", None)]


class _LateBoundApp:
    """A WSGI app whose target is set after the server knows its port (PUBLIC_BASE_URL needs the port)."""

    target = None

    def __call__(self, environ, start_response):
        return self.target(environ, start_response)


@pytest.mark.parametrize("order", ["ordered", "reversed"])
def test_fake_twilio_replays_callbacks_end_to_end(make_app, twilio, order):
    """FakeTwilio posts signed sent/delivered/read callbacks (reversed: read first) to our StatusCallback URL,
    served here by a real HTTP server; the message ends `read` whatever the order."""
    wsgi = _LateBoundApp()
    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        app = make_app(public_base_url=base)
        wsgi.target = app
        twilio.callbacks = order
        phone = "+967712100006"
        params = inbound_params(phone, "hello")
        signature = RequestValidator(AUTH_TOKEN).compute_signature(base + "/webhooks/twilio/messages", params)
        response = post_signed(app.test_client(), "/webhooks/twilio/messages", params, signature=signature)
        assert response.status_code == 200
        run_jobs(app)
        sent = twilio.sent_to(phone)
        assert len(sent) == 1
        sid = sent[0]["sid"]
        assert sent[0]["status_callback"] == base + STATUS_PATH
        deadline = time.time() + 10
        with app.app_context():
            while True:
                with db.session_scope() as s:
                    got, current = events(s, sid), row(s, sid)
                if len(got) >= 3 or time.time() > deadline:
                    break
                time.sleep(0.02)
        expected = ["sent", "delivered", "read"]
        assert [state for state, _ in got] == (expected if order == "ordered" else expected[::-1])
        assert current[:2] == ("read", STATUS_RANK["read"])
    finally:
        twilio.callbacks = "none"
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
