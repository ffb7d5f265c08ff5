"""Media and location messages are stored (as attachments) and answered sensibly."""
import json

import pytest
from sqlalchemy import select

from bot.i18n import catalog
from models import Message, MessageAttachment
from tests.conftest import inbound_params, load_payload, post_signed, run_jobs, send

MESSAGES_PATH = "/webhooks/twilio/messages"


def deliver(client, params):
    response = post_signed(client, MESSAGES_PATH, params)
    assert response.status_code == 200
    return response


def inbound(session, sid):
    return session.scalars(select(Message).where(Message.twilio_sid == sid)).one()


def attachments_of(session, message_id):
    return session.scalars(select(MessageAttachment).where(MessageAttachment.message_id == message_id)
                           .order_by(MessageAttachment.id)).all()


def replies_to(session, message_id):
    return session.scalars(select(Message).where(Message.reply_to_id == message_id)
                           .order_by(Message.part_index)).all()


def test_image_is_stored_as_attachment_and_acknowledged(app, client, session, twilio, llm):
    payload = load_payload("inbound_image.json")
    deliver(client, payload)
    message = inbound(session, payload["MessageSid"])
    assert (message.message_type, message.body) == ("image", "")
    [attachment] = attachments_of(session, message.id)
    assert (attachment.kind, attachment.url, attachment.content_type) == ("media", payload["MediaUrl0"],
                                                                           "image/jpeg")
    assert attachment.latitude is None and attachment.label is None

    run_jobs(app)
    [sent] = twilio.sent_to("+967771234567")
    [reply] = replies_to(session, message.id)
    assert reply.route == "media" and reply.body == sent["body"]
    assert sent["body"] == catalog.say_both("media_received", "en", kind=catalog.MEDIA_KINDS["image"])
    assert "image" in sent["body"] and "الصورة" in sent["body"]
    assert not llm.requests, "a caption-less image needs no LLM call"
    session.expire_all()
    assert inbound(session, payload["MessageSid"]).status == "processed"


def test_location_is_stored_and_reply_mentions_label(app, client, session, twilio, llm):
    payload = load_payload("inbound_location.json")
    deliver(client, payload)
    message = inbound(session, payload["MessageSid"])
    assert message.message_type == "location"
    [place] = attachments_of(session, message.id)
    assert place.kind == "location" and place.url is None
    assert place.latitude == pytest.approx(12.7855) and place.longitude == pytest.approx(45.0187)
    assert (place.address, place.label) == ("Crater, Aden", "Aden Cultural Centre")

    run_jobs(app)
    [sent] = twilio.sent_to("+967700112233")
    assert "Aden Cultural Centre" in sent["body"]
    assert sent["body"].index("Aden Cultural Centre") < sent["body"].index("شكراً"), "English first"
    assert replies_to(session, message.id)[0].route == "location"
    assert not llm.requests


def test_location_without_label_uses_address(app, client, session, twilio):
    payload = load_payload("inbound_location.json")
    payload.pop("Label")
    deliver(client, payload)
    run_jobs(app)
    [sent] = twilio.sent_to("+967700112233")
    assert "(Crater, Aden)" in sent["body"]


def test_image_with_caption_is_answered_by_llm_which_hears_of_the_attachment(app, client, session, twilio, llm):
    payload = load_payload("inbound_image.json")
    payload["Body"] = "Is this the right entrance?"
    deliver(client, payload)
    run_jobs(app)
    assert len(llm.requests) == 1
    user_turn = llm.requests[0]["body"]["messages"][-1]
    assert user_turn["role"] == "user"
    assert "Is this the right entrance?" in user_turn["content"]
    assert "image/jpeg" in user_turn["content"] and "attached" in user_turn["content"]
    [sent] = twilio.sent_to("+967771234567")
    assert sent["body"].startswith("FAKE-LLM: Is this the right entrance?")
    message = inbound(session, payload["MessageSid"])
    assert replies_to(session, message.id)[0].route == "llm"
    assert len(attachments_of(session, message.id)) == 1


def test_two_media_items_are_both_stored(app, client, session):
    payload = load_payload("inbound_image.json")
    payload.update(NumMedia="2", MediaUrl1=payload["MediaUrl0"] + "-2", MediaContentType1="application/pdf")
    deliver(client, payload)
    stored = attachments_of(session, inbound(session, payload["MessageSid"]).id)
    assert [(a.kind, a.content_type) for a in stored] == [("media", "image/jpeg"), ("media", "application/pdf")]


def test_arabic_caption_without_llm_gets_arabic_first(make_app, session, twilio):
    app = make_app(openai_api_key=None)
    payload = load_payload("inbound_image.json")
    payload["Body"] = "هل هذا هو المدخل الصحيح؟"
    deliver(app.test_client(), payload)
    run_jobs(app)
    [sent] = twilio.sent_to("+967771234567")
    # no LLM: the honest answer, in Arabic, the caption's language
    assert sent["body"].startswith(catalog.MESSAGES["fallback_no_llm"]["ar"].split("{")[0])


def test_say_both_puts_the_users_language_first():
    both = catalog.say_both("media_received", "ar", kind=catalog.MEDIA_KINDS["image"])
    arabic, english = both.split("\n\n")
    assert arabic == catalog.say("media_received", "ar", kind="الصورة")
    assert english == catalog.say("media_received", "en", kind="image")


@pytest.mark.parametrize("payload_name, phone", [("inbound_image.json", "+967771234567"),
                                                 ("inbound_location.json", "+967700112233")])
def test_arabic_speakers_media_reply_is_arabic_first(app, client, twilio, payload_name, phone):
    send(client, phone, "مرحباً، متى تبدأ الفعالية؟", profile="هدى")
    run_jobs(app)
    payload = load_payload(payload_name)
    payload["ProfileName"] = "هدى"
    deliver(client, payload)
    run_jobs(app)
    reply = twilio.sent_to(phone)[-1]["body"]
    assert reply.startswith("شكراً"), reply


@pytest.mark.parametrize("num_media", ["abc", "", "-1", "1.5", "9" * 40, "٣", "NaN", "0x1"])
def test_garbage_num_media_is_not_a_500(app, client, session, twilio, num_media):
    payload = load_payload("inbound_image.json")
    payload["NumMedia"] = num_media
    response = deliver(client, payload)
    assert response.mimetype == "text/xml"
    message = inbound(session, payload["MessageSid"])
    for attachment in attachments_of(session, message.id):
        assert (attachment.kind, attachment.url) == ("media", payload["MediaUrl0"])
    run_jobs(app)
    assert len(twilio.sent_to("+967771234567")) == 1, "the turn is still answered"


@pytest.mark.parametrize("latitude, longitude", [("abc", "45.0"), ("", "45.0"), ("12.5", None)])
def test_unparseable_location_is_no_location_attachment(app, client, session, twilio, latitude, longitude):
    params = inbound_params("+967700112299", "", MessageType="location", Latitude=latitude)
    if longitude is not None:
        params["Longitude"] = longitude
    deliver(client, params)
    message = inbound(session, params["MessageSid"])
    assert attachments_of(session, message.id) == []
    run_jobs(app)
    assert len(twilio.sent_to("+967700112299")) == 1


@pytest.mark.parametrize("latitude", ["nan", "inf", "-Infinity"])
def test_non_finite_coordinates_are_not_stored(app, client, runner, session, latitude):
    params = inbound_params("+967700112298", "", MessageType="location", Latitude=latitude, Longitude="45.0")
    deliver(client, params)
    result = runner.invoke(args=["users", "export", "+967700112298"])
    assert result.exit_code == 0
    json.loads(result.stdout, parse_constant=lambda name: pytest.fail(f"export printed {name}"))
    assert attachments_of(session, inbound(session, params["MessageSid"]).id) == []
