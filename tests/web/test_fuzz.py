"""Issue 15, item 4: property-based fuzzing of both webhooks (Hypothesis) — no response is ever ≥ 500.

Signed requests carry forms built from Twilio's own parameter names and hostile values (NUL, digits `int` refuses,
40-digit codes, non-finite coordinates, long content types, any Unicode), signed as Twilio signs, so they get past
the signature into parsing and storing; signed raw bodies are arbitrary bytes signed over the form the server will
parse from them; unsigned requests vary the media type, the body and the headers. Each runs in both intake modes
through the Flask test client; in buffered mode the intake job then stores what was acknowledged, and nothing may
be dead-lettered (a value PostgreSQL refuses). Figures: about 1,100 requests a run (2 modes x (350 signed forms + 100
signed raw bodies + 100 unsigned); `--hypothesis-show-statistics`).
"""
from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from bot.intake.buffer import DEAD_KEY
from bot.web.form import parse_form
from bot.wiring import runtime
from tests.conftest import sign

MESSAGES, STATUS = "/webhooks/twilio/messages", "/webhooks/twilio/status"
FUZZ = settings(max_examples=350, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.filter_too_much])

TWILIO_NAMES = ["MessageSid", "SmsMessageSid", "SmsSid", "AccountSid", "From", "To", "Body", "ProfileName", "WaId",
                "NumMedia", "MediaUrl0", "MediaContentType0", "MediaUrl1", "MediaContentType1", "Latitude",
                "Longitude", "Address", "Label", "ButtonText", "ButtonPayload", "OriginalRepliedMessageSid",
                "ReferralCtwaClid", "ReferralBody", "MessageType", "NumSegments", "Forwarded", "MessageStatus",
                "SmsStatus", "ErrorCode", "ErrorMessage", "EventType", "ChannelPrefix", "ApiVersion"]
HOSTILE = ["", " ", "\x00", "a\x00b", "²", "٣", "9" * 40, "-1", "1e999", "-inf", "nan", "NaN", "0x10", "  7 ",
           "whatsapp:", "whatsapp:+", "whatsapp:+967712345678\x00", "+" + "9" * 30, "application/" + "x" * 200,
           "image/jpeg", "delivered", "read", "failed", "READ", "\u202e\u200f", "🎉" * 30, "%", "%zz", "&", "=",
           "\ufffd", "\r\n", "<Response/>", "Robert'); DROP TABLE messages;--", "SM" + "0" * 70, "x" * 2000]

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)  # a form cannot carry lone surrogates
values = st.one_of(st.sampled_from(HOSTILE), text, st.integers().map(str),
                   st.floats(allow_nan=True, allow_infinity=True).map(repr))
names = st.one_of(st.sampled_from(TWILIO_NAMES), text)


def mostly(valid: st.SearchStrategy, hostile: st.SearchStrategy) -> st.SearchStrategy:
    """Valid four times in five, so that most signed messages get past the required fields into storing."""
    return st.integers(0, 4).flatmap(lambda k: hostile if k == 4 else valid)


sids = mostly(st.uuids().map(lambda u: "SM" + u.hex), values)
phones = mostly(st.integers(967700000000, 967799999999).map(lambda n: f"whatsapp:+{n}"), values)


@st.composite
def inbound_forms(draw) -> dict:
    form = {"MessageSid": draw(sids), "From": draw(phones), "Body": draw(values), "To": "whatsapp:+14155238886"}
    form.update(draw(st.dictionaries(names.filter(lambda n: n not in form), values, max_size=8)))
    return form


@st.composite
def status_forms(draw) -> dict:
    form = {"MessageSid": draw(sids), "MessageStatus": draw(st.one_of(st.sampled_from(["sent", "delivered", "read",
                                                                                     "failed", "undelivered"]),
                                                                    values)),
            "ErrorCode": draw(values)}
    form.update(draw(st.dictionaries(names.filter(lambda n: n not in form), values, max_size=6)))
    return form


@pytest.fixture(params=["direct", "buffered"])
def fuzzed_app(request, make_app, redis_client):
    app = make_app(intake_mode=request.param)
    yield app
    if request.param == "buffered":  # what was acknowledged is stored: nothing PostgreSQL refuses was let through
        with app.app_context():
            rt = runtime()
            SimpleWorker([rt.queue.intake], connection=rt.redis, serializer=JSONSerializer).work(burst=True)
        assert redis_client.llen(DEAD_KEY) == 0, redis_client.lrange(DEAD_KEY, 0, 3)


def post(client, path: str, body: bytes | str, signature: str, content_type="application/x-www-form-urlencoded"):
    return client.post(path, data=body, content_type=content_type, headers={"X-Twilio-Signature": signature})


@FUZZ
@given(data=st.data())
def test_signed_forms_never_get_a_5xx(fuzzed_app, data):
    path = data.draw(st.sampled_from([MESSAGES, STATUS]))
    form = data.draw(inbound_forms() if path == MESSAGES else status_forms())
    response = post(fuzzed_app.test_client(), path, urllib.parse.urlencode(form), sign(path, form))
    assert response.status_code in (200, 400), (response.status_code, form, response.get_data()[:300])


@settings(FUZZ, max_examples=100)
@given(path=st.sampled_from([MESSAGES, STATUS]), body=st.binary(max_size=400))
def test_signed_raw_bodies_never_get_a_5xx(fuzzed_app, path, body):
    """Any bytes at all, signed over the form the server parses from them (invalid UTF-8, stray `%`, `&&`)."""
    form = parse_form(body.decode("utf-8", "replace"))
    response = post(fuzzed_app.test_client(), path, body, sign(path, form))
    assert response.status_code in (200, 400), (response.status_code, body)


@settings(FUZZ, max_examples=100)
@given(path=st.sampled_from([MESSAGES, STATUS, MESSAGES + "?x=%ff&y", STATUS + "?\x00"]),
       body=st.one_of(st.binary(max_size=300), st.builds(urllib.parse.urlencode, inbound_forms())),
       content_type=st.one_of(st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data; boundary=B",
                                               "multipart/form-data", "text/plain", "application/json", ""]), text),
       signature=st.one_of(st.just(""), text, st.binary(max_size=40).map(lambda b: b.decode("latin-1"))))
def test_unsigned_requests_never_get_a_5xx(fuzzed_app, path, body, content_type, signature):
    try:
        response = post(fuzzed_app.test_client(), path, body, signature, content_type=content_type or None)
    except ValueError:  # a header werkzeug's test client itself refuses to build (a newline in it)
        return
    assert response.status_code < 500, (response.status_code, path, body, content_type, signature)
