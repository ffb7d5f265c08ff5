"""Moderation rules at the routing seam, in Arabic and English: flag (answered as usual, queued, the team told
once), block (stored, answered by one neutral notice, never seen by the LLM), replace (the LLM sees the mask,
this turn and in later turns' history; the stored turn keeps what was written); the /flags queue with its role
checks."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.conversation.pending import Turn
from bot.core.db import db
from bot.i18n import catalog
from models import AuditEntry, Conversation, FlaggedContent, Message, User
from tests.dialog.moderation import ADMIN, ATTENDEE, OTHER, OWNER, moderated_app
from tests.dialog.seam import Chat


@pytest.fixture
def moderated(make_app, tmp_path):
    return moderated_app(make_app, tmp_path)


def flags_of(app) -> list[FlaggedContent]:
    with app.app_context(), db.session_scope() as session:
        return list(session.scalars(select(FlaggedContent).order_by(FlaggedContent.id)))


def user_ids(app) -> dict[str, int]:
    with app.app_context(), db.session_scope() as session:
        return {u.phone: u.id for u in session.scalars(select(User))}


@pytest.mark.parametrize("text", ["متى موعد الدخول؟", "كلاب الحراسة ممنوعة؟", "I need the class schedule",
                                  "will you go to the hotel"])
def test_words_inside_other_words_flag_nothing(moderated, llm, text):
    said = Chat(moderated, ATTENDEE).say(text)
    assert said.route[0] != "moderation" and flags_of(moderated) == []


def test_flag_answers_as_usual_queues_the_message_and_tells_the_organizer_of_the_users_event(moderated, llm):
    said = Chat(moderated, ATTENDEE).say("يا خول متى الحفلة")
    assert said.route[0] == "facts" and said.body, "answered as usual (from the events table)"
    [flag] = flags_of(moderated)
    assert (flag.action, flag.status, flag.matched, flag.message_id) == ("flag", "pending", "خول", said.inbound.id)
    ids = user_ids(moderated)
    [notice] = said.reply.notify
    assert notice.user_id == ids[OWNER] and notice.record == ("flagged", flag.id)
    assert f"#{flag.id}" in notice.texts["en"] and "يا خول" in notice.texts["ar"]


def test_block_stores_the_turn_answers_one_neutral_notice_and_never_reaches_the_llm(moderated, llm):
    said = Chat(moderated, ATTENDEE).say("انت كلب")
    assert said.route[:2] == ("moderation", "blocked")
    assert said.body == catalog.say("moderation_blocked", "ar")
    assert said.inbound.body == "انت كلب" and said.inbound.status == "processed"
    assert llm.requests == []
    english = Chat(moderated, ATTENDEE).say("Go to HELL!")
    assert english.body == catalog.say("moderation_blocked", "en") and llm.requests == []
    assert [f.action for f in flags_of(moderated)] == ["block", "block"]


def test_replace_masks_what_the_llm_sees_now_and_later_but_the_stored_turn_keeps_the_words(moderated, llm):
    chat = Chat(moderated, ATTENDEE)
    said = chat.say("the idiot at the door took my card 4111111111111111")
    asked = llm.bodies[-1]["messages"][-1]["content"]
    assert asked == "the *** at the door took my card [card]"
    assert said.body == f"FAKE-LLM: {asked}" and said.route[0] == "llm"
    assert said.inbound.body == "the idiot at the door took my card 4111111111111111", "stored as written"
    [flag] = flags_of(moderated)
    assert flag.action == "replace" and flag.matched == "4111111111111111, idiot"
    chat.say("and what about the parking")
    later = " ".join(str(m["content"]) for m in llm.bodies[-1]["messages"])
    assert "the *** at the door" in later and "idiot" not in later and "4111" not in later


def test_the_flag_queue_by_role_approve_and_reject_in_both_languages(moderated, llm):
    Chat(moderated, ATTENDEE).say("يا خول")
    Chat(moderated, ATTENDEE).say("you idiot")
    first, second = flags_of(moderated)
    owner, other, admin = Chat(moderated, OWNER), Chat(moderated, OTHER), Chat(moderated, ADMIN)
    listed = owner.say("/flags")
    assert f"#{first.id}" in listed.body and f"#{second.id}" in listed.body and "يا خول" in listed.body
    assert "#" not in other.say("/flags").body, "an organizer of other events sees none"
    assert other.say(f"/flags approve {first.id}").route[:2] == ("command", "flags")
    assert flags_of(moderated)[0].status == "pending"
    assert Chat(moderated, ATTENDEE).say("/flags").route[:2] == ("command", "refused")
    approved = owner.say(f"/البلاغات قبول {first.id}")
    assert approved.body.startswith("✅") and flags_of(moderated)[0].status == "approved"
    rejected = admin.say(f"/flags reject #{second.id}")
    assert f"/ban #{second.id}" in rejected.body
    again = owner.say(f"/flags reject {second.id}")
    assert again.body == catalog.say("console_flag_already", "en", id=second.id, status="rejected")
    reviewed = flags_of(moderated)
    assert [(f.status, f.reviewed_by) for f in reviewed] == [("approved", user_ids(moderated)[OWNER]),
                                                              ("rejected", user_ids(moderated)[ADMIN])]
    assert owner.say("/flags").body == catalog.say("console_flags_none", "en")
    with moderated.app_context(), db.session_scope() as session:
        audited = [(a.command, a.result) for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert ("flags", "not_found") in audited and ("flags", "already") in audited


def test_a_flag_of_a_user_without_events_goes_to_the_admins_and_a_turn_routed_twice_keeps_one_flag(moderated, llm):
    stranger = Chat(moderated, "+967719900009", profile="Stranger")
    said = stranger.say("you idiot")
    assert [n.user_id for n in said.reply.notify] == [user_ids(moderated)[ADMIN]]
    with moderated.app_context(), db.session_scope() as session:  # the same turn answered again (a retried job)
        inbound = session.get(Message, said.inbound.id)
        turn = Turn(inbound, session.get(User, inbound.user_id), session.get(Conversation, inbound.conversation_id),
                    False, 1)
        again, _ = moderated.extensions["runtime"].answerer.reply(session, turn)
    assert len(flags_of(moderated)) == 1 and again.notify[0].record == said.reply.notify[0].record
