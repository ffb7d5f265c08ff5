"""Bans at the routing seam: /ban and /unban with their role checks (audited), one notice in the banned user's
language then silence with every turn stored, STOP still taking effect silently, expiry honoured, and the
history in `users export`."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.core.db import db
from bot.core.phones import mask
from bot.i18n import catalog
from models import AuditEntry, FlaggedContent, User, UserBan
from models.base import utcnow
from tests.dialog.moderation import ADMIN, ATTENDEE, OTHER, OWNER, moderated_app
from tests.dialog.seam import Chat


@pytest.fixture
def moderated(make_app, tmp_path):
    return moderated_app(make_app, tmp_path)


def bans_of(app, phone: str) -> list[UserBan]:
    with app.app_context(), db.session_scope() as session:
        return list(session.scalars(select(UserBan).join(User, User.id == UserBan.user_id)
                                    .where(User.phone == phone).order_by(UserBan.id)))


def test_one_notice_in_their_language_then_silence_every_turn_stored_until_unbanned(moderated):
    owner, attendee = Chat(moderated, OWNER), Chat(moderated, ATTENDEE)
    banned = owner.say(f"/ban {ATTENDEE} spam and insults")
    assert banned.route[:2] == ("command", "ban") and banned.body.startswith("🚫")
    [row] = bans_of(moderated, ATTENDEE)
    assert (row.reason, row.expires_at, row.notified_at) == ("spam and insults", None, None)
    told = attendee.say("مرحبا، متى الحفلة؟")
    assert told.body == catalog.say("ban_notice", "ar") and told.route[:2] == ("ban", "notice")
    for text in ("hello?", "/help", "menu", "متى الحفلة"):
        quiet = attendee.say(text)
        assert quiet.stored is None and quiet.route[0] == "ban", f"silence for {text!r}"
        assert quiet.inbound.body == text and quiet.inbound.status == "processed", "the turn is stored"
    assert bans_of(moderated, ATTENDEE)[0].notified_at is not None
    assert owner.say(f"/unban {ATTENDEE}").body.startswith("✅")
    assert attendee.say("menu").route[0] == "intent", "answered again"
    assert owner.say(f"/unban {ATTENDEE}").route[:2] == ("command", "unban")
    with moderated.app_context(), db.session_scope() as session:
        audited = [(a.command, a.result) for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert audited == [("ban", "ok"), ("unban", "ok"), ("unban", "already")]


def test_a_ban_with_days_ends_when_it_expires_and_its_notice_names_the_end(moderated):
    Chat(moderated, ADMIN).say(f"/حظر {ATTENDEE} 7 إساءة")
    [row] = bans_of(moderated, ATTENDEE)
    assert timedelta(days=6, hours=23) < row.expires_at - utcnow() <= timedelta(days=7)
    attendee = Chat(moderated, ATTENDEE)
    told = attendee.say("hello")
    assert told.route[:2] == ("ban", "notice") and "until" in told.body
    assert attendee.say("hello again").stored is None
    with moderated.app_context(), db.session_scope() as session:  # seven days later
        session.execute(update(UserBan).values(expires_at=utcnow() - timedelta(minutes=1)))
    assert attendee.say("menu").route[0] == "intent"
    assert Chat(moderated, OWNER).say(f"/unban {ATTENDEE}").body == catalog.say(
        "console_not_banned", "en", name=f"Test Attendee ({mask(ATTENDEE)})"), "expired: nothing to lift"


def test_stop_still_opts_a_banned_user_out_but_silently(moderated):
    attendee = Chat(moderated, ATTENDEE)
    attendee.say("hi")
    Chat(moderated, OWNER).say(f"/ban {ATTENDEE}")
    attendee.say("hello")  # the one notice
    stopped = attendee.say("STOP")
    assert stopped.stored is None and stopped.route[:2] == ("consent", "opt_out")
    assert attendee.user().opted_out_at is not None


@pytest.mark.parametrize("who, target, allowed", [
    (OWNER, ATTENDEE, True), (OWNER, OTHER, False), (OWNER, ADMIN, False), (OWNER, OWNER, False),
    (ADMIN, OTHER, True), (ADMIN, ADMIN, False), (ATTENDEE, OWNER, False)])
def test_organizers_ban_attendees_admins_also_organizers_nobody_an_admin_or_themselves(moderated, who, target,
                                                                                        allowed):
    said = Chat(moderated, who).say(f"/ban {target}")
    assert (said.route[1] == "ban" and said.body.startswith("🚫")) is allowed
    assert bool(bans_of(moderated, target)) is allowed


def test_ban_by_flag_number_and_refusals(moderated, tmp_path):
    Chat(moderated, ATTENDEE).say("go to hell")
    with moderated.app_context(), db.session_scope() as session:
        flag_id = session.scalars(select(FlaggedContent.id)).one()
    other, owner = Chat(moderated, OTHER), Chat(moderated, OWNER)
    assert other.say(f"/ban #{flag_id}").body == catalog.say("console_no_such_user", "en", phone=f"#{flag_id}")
    assert owner.say(f"/ban #{flag_id} 3").body.startswith("🚫")
    assert owner.say(f"/ban {ATTENDEE}").route[:2] == ("command", "ban")
    assert len(bans_of(moderated, ATTENDEE)) == 1, "already banned: nothing added"
    assert owner.say("/ban +967700000000").body == catalog.say("console_no_such_user", "en", phone="+967700000000")
    assert owner.say(f"/ban {ATTENDEE} 99999").body == catalog.say("console_ban_usage", "en")
    assert owner.say("/ban").body == catalog.say("console_ban_usage", "en")


def test_users_export_shows_the_ban_history_and_flags(moderated):
    Chat(moderated, ATTENDEE).say("you idiot")
    owner = Chat(moderated, OWNER)
    owner.say(f"/ban {ATTENDEE} 2 rude")
    Chat(moderated, ATTENDEE).say("hi")
    owner.say(f"/unban {ATTENDEE}")
    result = moderated.test_cli_runner().invoke(args=["users", "export", ATTENDEE])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    [ban] = document["bans"]
    assert (ban["reason"], ban["banned_by"], ban["lifted_by"]) == ("rude", OWNER, OWNER)
    assert ban["expires_at"] and ban["lifted_at"] and ban["notified_at"]
    assert [(f["action"], f["matched"], f["status"]) for f in document["flagged"]] == [("replace", "idiot", "pending")]
