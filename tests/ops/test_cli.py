"""`flask users export PHONE` prints one JSON document of everything stored about a user; `db upgrade` is
safe to run again."""
import json
from datetime import datetime

import pytest

from tests.conftest import load_payload, post_signed, run_jobs, send
from tests.fakes import status_params

PHONE = "+967771234567"  # the sender of tests/data/inbound_image.json
ARABIC = "السلام عليكم، من فاز بالمباراة امس؟"  # out of scope: the LLM answers it


@pytest.fixture
def exchange(app, client, twilio, llm):
    """An image, then an Arabic question, both answered; the first reply failed with 63016."""
    image = load_payload("inbound_image.json")
    assert post_signed(client, "/webhooks/twilio/messages", image).status_code == 200
    run_jobs(app)
    send(client, PHONE, ARABIC, profile="Huda")
    run_jobs(app)
    first_reply = twilio.sent_to(PHONE)[0]
    post_signed(client, "/webhooks/twilio/status",
                status_params(first_reply["sid"], "failed", f"whatsapp:{PHONE}", 63016))
    return image


def export(runner, phone):
    return runner.invoke(args=["users", "export", phone])


def test_export_document_shape(exchange, runner, twilio):
    result = export(runner, PHONE)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"user", "consent", "registrations", "bans", "flagged", "handoff_requests",
                             "conversations"}
    assert document["bans"] == [] and document["flagged"] == []
    assert document["user"]["phone"] == PHONE
    assert document["user"]["wa_id"] == "967771234567"
    assert document["user"]["display_name"] == "Huda"

    [conversation] = document["conversations"]
    assert {"id", "status", "messages"} <= set(conversation)
    assert conversation["status"] == "active"
    messages = conversation["messages"]
    assert [m["direction"] for m in messages] == ["inbound", "outbound", "inbound", "outbound"]
    required = {"direction", "body", "status", "twilio_sid", "error_code", "route", "created_at", "attachments"}
    for m in messages:
        assert required <= set(m), required - set(m)
        created = datetime.fromisoformat(m["created_at"])
        assert created.tzinfo is not None and created.utcoffset().total_seconds() == 0

    image_in, image_reply, question, answer = messages
    assert image_in["twilio_sid"] == exchange["MessageSid"] and image_in["status"] == "processed"
    assert image_in["attachments"][0]["url"] == exchange["MediaUrl0"]
    assert image_in["attachments"][0]["content_type"] == "image/jpeg"
    assert image_reply["route"] == "media" and image_reply["attachments"] == []
    assert (image_reply["status"], image_reply["error_code"]) == ("failed", 63016)
    assert "24-hour window" in image_reply["error_message"], "what the code means, for whoever reads the export"
    assert image_reply["twilio_sid"] == twilio.sent_to(PHONE)[0]["sid"]
    assert question["body"] == ARABIC and question["route"] == "llm", "an inbound turn records what answered it"
    assert answer["route"] == "llm" and answer["body"] == f"FAKE-LLM: {ARABIC}"
    assert (answer["status"], answer["error_code"]) == ("queued", None)


def test_export_keeps_arabic_unescaped(exchange, runner):
    result = export(runner, PHONE)
    assert result.exit_code == 0
    assert ARABIC in result.stdout
    assert "\\u06" not in result.stdout and "\\u0627" not in result.stdout


def test_export_accepts_other_spellings_of_the_phone(exchange, runner):
    for spelling in ("whatsapp:+967771234567", "+967 77 123 4567", "967771234567"):
        result = export(runner, spelling)
        assert result.exit_code == 0, (spelling, result.output)
        assert json.loads(result.stdout)["user"]["phone"] == PHONE


def test_export_finds_a_sender_known_only_by_a_business_scoped_id(app, client, runner):
    send(client, "IN.2081234567890123", "hello", From="whatsapp:IN.2081234567890123",
         ExternalUserId="IN.2081234567890123", WaId="")
    run_jobs(app)
    result = export(runner, "whatsapp:IN.2081234567890123")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["user"]["phone"] == "IN.2081234567890123"


def test_export_unknown_phone_is_exit_1(app, runner):
    result = export(runner, "+967700000999")
    assert result.exit_code == 1
    assert "no user with phone +967700000999" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("phone", ["not-a-phone", "+12", "whatsapp:"])
def test_export_malformed_phone_is_exit_1(app, runner, phone):
    result = export(runner, phone)
    assert result.exit_code == 1
    assert result.stderr.startswith("error:") and "phone number" in result.stderr
    assert result.stdout == ""


def test_db_upgrade_twice_is_idempotent(app, runner):
    for _ in range(2):
        result = runner.invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert "database at head" in result.stdout
