"""Behaviour 12: bad input gets a clear 4xx, odd but valid input is stored safely and answered."""
import pytest
from sqlalchemy import func, select

from models import Message
from tests.conftest import inbound_params, post_signed, run_jobs, send


@pytest.mark.parametrize("missing", ["From", "MessageSid"])
def test_signed_request_without_required_field_is_400(client, session, missing):
    params = inbound_params("+967712000020", "hello")
    params.pop(missing)
    if missing == "MessageSid":
        params.pop("SmsMessageSid")
    response = post_signed(client, "/webhooks/twilio/messages", params)
    assert response.status_code == 400
    assert missing in response.get_json()["error"]
    assert session.scalar(select(func.count()).select_from(Message)) == 0


def test_sender_that_is_not_a_phone_number_is_400(client):
    params = inbound_params("+967712000021", "hello", From="whatsapp:not-a-number")
    assert post_signed(client, "/webhooks/twilio/messages", params).status_code == 400


def test_get_is_405(client):
    assert client.get("/webhooks/twilio/messages").status_code == 405
    assert client.get("/webhooks/twilio/status").status_code == 405


def test_body_over_64kb_is_413(client, session):
    params = inbound_params("+967712000022", "x" * 200_000)
    assert post_signed(client, "/webhooks/twilio/messages", params).status_code == 413
    assert session.scalar(select(func.count()).select_from(Message)) == 0


def test_status_callback_without_sid_is_400(client):
    assert post_signed(client, "/webhooks/twilio/status", {"MessageStatus": "sent"}).status_code == 400


def test_unknown_parameters_are_accepted(client):
    response, _ = send(client, "+967712000023", "hi", BrandNewTwilioField="surprise", Referral="x")
    assert response.status_code == 200


@pytest.mark.parametrize("body", [
    "\u202e\x00' OR 1=1; DROP TABLE users; -- \U0001F600 مرحبا",
    "\u200f\u061c\u200eمرحبا 123 \u2066+967\u2069",
    "Robert'); DROP TABLE messages;--",
    "🎉🎶🇾🇪" * 50,
    "\x00\x00\x00",
])
def test_odd_text_is_stored_safely_and_answered(app, client, session, twilio, body):
    response, sid = send(client, "+967712000024", body)
    assert response.status_code == 200
    stored = session.scalars(select(Message).where(Message.twilio_sid == sid)).one()
    assert stored.body == body.replace("\x00", "")
    run_jobs(app)
    assert twilio.sent_to("+967712000024"), "odd but valid text must be answered"
