"""Senders WhatsApp identifies without a phone number (`From=whatsapp:IN.2081…` with `ExternalUserId`, issue
13): accepted, stored under the business-scoped id, answered at the same address; anything else that is not a
phone number is still a 400."""
import pytest
from sqlalchemy import select

from bot.channels.twilio.inbound import parse_inbound
from bot.core.errors import MalformedRequest
from models import Message, User
from tests.conftest import inbound_params, post_signed, run_jobs

SCOPED = "IN.2081234567890123"


def scoped_form(body: str) -> dict:
    return inbound_params(SCOPED, body, From=f"whatsapp:{SCOPED}", ExternalUserId=SCOPED, WaId="")


def test_the_turn_keeps_the_business_scoped_id_and_the_external_user_id():
    turn = parse_inbound(scoped_form("hello"))
    assert turn.phone == SCOPED and turn.wa_id is None
    assert turn.meta["ExternalUserId"] == SCOPED


@pytest.mark.parametrize("sender", ["whatsapp:IN.", "whatsapp:in.2081234567", "whatsapp:IN.208 123",
                                    "whatsapp:IND.2081234567", "whatsapp:hello", "whatsapp:IN.20812345678$"])
def test_other_addresses_that_are_no_phone_number_are_refused(sender):
    with pytest.raises(MalformedRequest):
        parse_inbound(inbound_params("+967712000001", "hi", From=sender))


def test_a_sender_without_a_phone_number_is_answered_at_the_same_address(app, client, session, twilio):
    response = post_signed(client, "/webhooks/twilio/messages", scoped_form("hi"))
    assert response.status_code == 200
    run_jobs(app)
    [sent] = twilio.sent_to(SCOPED)
    assert sent["to"] == f"whatsapp:{SCOPED}" and sent["body"]
    user = session.scalars(select(User)).one()
    assert user.phone == SCOPED
    inbound = session.scalars(select(Message).where(Message.direction == "inbound")).one()
    assert inbound.status == "processed"


def test_phone_numbers_are_still_stored_in_e164():
    assert parse_inbound(inbound_params("+967712000001", "hi", From="whatsapp:+967 712-000-001")).phone \
        == "+967712000001"
