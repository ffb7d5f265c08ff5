"""Real WhatsApp message shapes (recorded Twilio forms under tests/data/, and the fields Twilio adds), at the
routing seam: stickers, contact cards and voice notes named for what they are; template buttons and list rows
routed by their payload; a reply to an older bot message answered in that message's context; a 👍/👎 reaction
to an answer recorded as feedback on it; "Nice" acknowledged."""
from __future__ import annotations

import pytest
from sqlalchemy import select, update

from bot.core.db import db
from bot.i18n import catalog
from models import AIInteraction, Message
from tests.conftest import load_payload
from tests.dialog.journey import WORDS, event, seed_ticket
from tests.dialog.seam import Chat, deliver


@pytest.mark.parametrize("payload, kind, key", [("inbound_sticker.json", "sticker", "sticker_received"),
                                                ("inbound_contact.json", "contact", "contact_received"),
                                                ("inbound_voice_note.json", "audio", "voice_note_received")])
def test_stickers_contacts_and_voice_notes_are_named_for_what_they_are(faq_bot, payload, kind, key):
    said = deliver(faq_bot, load_payload(payload))
    assert said.route[:2] == ("media", kind)
    assert said.body == catalog.say_both(key, "en")


def test_a_photo_is_answered_honestly(faq_bot):
    said = deliver(faq_bot, load_payload("inbound_image.json"))
    assert said.route[:2] == ("media", "image")
    assert said.body == catalog.say_both("media_received", "en", kind=catalog.MEDIA_KINDS["image"])


def test_the_recorded_button_reply_is_routed_by_its_payload(events_bot):
    form = {**load_payload("inbound_button_reply.json"), "ButtonPayload": "event:JAZZ"}
    said = deliver(events_bot, form)
    assert said.route[0] == "button" and said.route[1].startswith("event:")
    assert event(events_bot, "JAZZ").title("en") in said.body
    assert said.awaiting["kind"] == "event"


@pytest.mark.parametrize("field, payload, key", [("ButtonPayload", "register:OUD", "ask_seats"),
                                                 ("ListId", "pin:JAZZ", "location_pin"),
                                                 ("ListId", "events", "events"),
                                                 ("ButtonPayload", "menu", "menu")])
def test_buttons_and_list_rows_route_by_payload_whatever_their_text(events_bot, field, payload, key):
    said = Chat(events_bot, "+967716600001").say("Yes please!", meta={field: payload, "ButtonText": "Yes please!"})
    assert said.route[0] == "button" and said.route[1].endswith(key)


def test_a_reminders_cancel_button_asks_to_confirm_and_only_for_the_users_own_ticket(events_bot):
    owner = Chat(events_bot, "+967716600002")
    owner.say("hi")
    seed_ticket(events_bot, "+967716600002", "JAZZ", 2, ticket_code="BTN123")
    said = owner.say("Cancel my ticket", meta={"ButtonPayload": "cancel:BTN123"})
    assert said.route[:2] == ("button", "cancel:confirm_cancel") and said.awaiting["kind"] == "confirm_cancel"
    stranger = Chat(events_bot, "+967716600003").say("Cancel my ticket", meta={"ButtonPayload": "cancel:BTN123"})
    assert stranger.route[0] != "button", "someone else's ticket code reveals nothing"


def test_im_coming_confirms_with_the_ticket(events_bot):
    chat = Chat(events_bot, "+967716600004")
    chat.say("hi")
    seed_ticket(events_bot, "+967716600004", "OUD", 1, ticket_code="OUD777")
    said = chat.say("I'm coming", meta={"ButtonPayload": "coming:OUD777"})
    assert said.route[:2] == ("button", "coming:coming_confirmed") and "OUD777" in said.body


def sent(app, message: Message, sid: str) -> None:
    """What delivery records once a stored part is sent: its Twilio SID."""
    with app.app_context(), db.session_scope() as session:
        session.execute(update(Message).where(Message.id == message.id).values(twilio_sid=sid))


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_number_replying_to_an_older_list_picks_from_that_list(events_bot, lang):
    chat = Chat(events_bot, "+967716600005")
    listed = chat.say(WORDS[lang]["events"])
    sent(events_bot, listed.stored, "SMlist000000000000000000000000001")
    chat.say(WORDS[lang]["tickets"])  # the conversation moves on to another step
    picked = chat.say("2", meta={"OriginalRepliedMessageSid": "SMlist000000000000000000000000001"})
    assert picked.route[1] == "event_details"
    assert event(events_bot, "OUD").title(lang) in picked.body


def test_a_thumbs_up_reaction_to_an_answer_is_feedback_on_it(faq_bot):
    chat = Chat(faq_bot, "+967716600006")
    answered = chat.say("How much do tickets cost?")
    assert answered.route[0] == "faq"
    sent(faq_bot, answered.stored, "SManswer00000000000000000000000001")
    chat.say("is there parking?")
    reacted = chat.say("👍", message_type="reaction",
                       meta={"OriginalRepliedMessageSid": "SManswer00000000000000000000000001"})
    assert reacted.route[0] == "feedback"
    with faq_bot.app_context(), db.session_scope() as session:
        rated = session.get(AIInteraction, answered.stored.meta["interaction_id"])
        assert rated.feedback == 1
        others = session.scalars(select(AIInteraction).where(AIInteraction.id != rated.id)).all()
        assert all(i.feedback is None for i in others)


@pytest.mark.parametrize("text", ["Nice", "ok", "تمام", "حلو"])
def test_a_short_acknowledgement_is_acknowledged(faq_bot, text):
    said = Chat(faq_bot, "+967716600007").say(text)
    assert said.route[:2] == ("intent", "acknowledge")
