"""Behaviour 1: both webhooks accept only requests signed by Twilio for the public URL."""
import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from models import Message, MessageStatusEvent, User
from tests.conftest import PUBLIC_BASE_URL, inbound_params, load_payload, post_signed, sign
from tests.fakes import status_params


def test_twilio_documented_vector():
    """The validator we rely on reproduces Twilio's own published example."""
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
              "From": "+12349013030", "To": "+18005551212"}
    assert RequestValidator("12345").compute_signature(url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_signed_request_gets_empty_twiml(client):
    response = post_signed(client, "/webhooks/twilio/messages", load_payload("inbound_text_en.json"))
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    body = response.get_data(as_text=True)
    assert "<Response" in body and "<Message" not in body


@pytest.mark.parametrize("signature", ["", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "not base64 at all"])
def test_missing_or_invalid_signature_is_403_and_stores_nothing(client, session, redis_client, signature):
    params = inbound_params("+967712000001", "forged")
    response = post_signed(client, "/webhooks/twilio/messages", params, signature=signature)
    assert response.status_code == 403
    assert session.scalar(select(func.count()).select_from(Message)) == 0
    assert session.scalar(select(func.count()).select_from(User)) == 0
    assert redis_client.llen("rq:queue:replies") == 0


def test_wrong_token_and_tampered_body_are_403(client, session):
    params = inbound_params("+967712000002", "original")
    assert post_signed(client, "/webhooks/twilio/messages", params, token="another-token").status_code == 403
    sig = sign("/webhooks/twilio/messages", params)
    tampered = dict(params, Body="tampered")
    assert post_signed(client, "/webhooks/twilio/messages", tampered, signature=sig).status_code == 403
    assert session.scalar(select(func.count()).select_from(Message)) == 0


def test_url_is_rebuilt_from_public_base_url_with_exact_query(client):
    """Behind a TLS proxy the request arrives as http://localhost, but Twilio signed the public https URL."""
    params = inbound_params("+967712000003", "behind a proxy")
    ok = post_signed(client, "/webhooks/twilio/messages", params, query="tenant=aden&x=1")
    assert ok.status_code == 200
    # signed without the query string, but sent with one: a different URL, so rejected
    sig = sign("/webhooks/twilio/messages", params)
    response = client.post("/webhooks/twilio/messages?tenant=aden&x=1", data=params,
                           headers={"X-Twilio-Signature": sig})
    assert response.status_code == 403


def test_signature_for_the_internal_url_is_rejected(client):
    params = inbound_params("+967712000004", "internal url")
    sig = RequestValidator("test-auth-token").compute_signature("http://localhost/webhooks/twilio/messages", params)
    assert PUBLIC_BASE_URL.startswith("https://")
    assert post_signed(client, "/webhooks/twilio/messages", params, signature=sig).status_code == 403


def test_status_callback_requires_signature(client, session):
    params = status_params("SM" + "0" * 32, "delivered", "whatsapp:+967712000005")
    assert post_signed(client, "/webhooks/twilio/status", params, signature="bad").status_code == 403
    assert session.scalar(select(func.count()).select_from(MessageStatusEvent)) == 0
    assert post_signed(client, "/webhooks/twilio/status", params).status_code == 200


def test_the_form_parser_reads_what_parse_qsl_reads():
    """`parse_form` replaces `dict(parse_qsl(body, keep_blank_values=True))` on the hot path: the signature is
    computed over what it returns, so it must agree on every input — real forms and random junk alike."""
    import random
    from urllib.parse import parse_qsl, urlencode

    from bot.web.form import parse_form
    real = urlencode(inbound_params("+967712345678", "مرحبا 👋 a+b=c & 100% \u200f; DROP TABLE users;--"))
    pieces = ["&", "=", "+", "%", "%2", "%20", "%zz", "%e2%82", "%E2%82%AC", "%D9%85", "a", "Body", "é", "م",
              "👋", ";", " ", "&&", "==", "\u200f", "0", "F"]
    rng = random.Random(20261202)
    bodies = [real, "", "&", "=", "a", "a=", "=b", "a=b=c", "a&a=2&a=3"]
    bodies += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 40))) for _ in range(3000)]
    for body in bodies:
        assert parse_form(body) == dict(parse_qsl(body, keep_blank_values=True)), body
