"""The turn's read (`next_turn`, bot/conversation/pending.py) also says whether the user may be banned and whether
a person may own the conversation, so the ban and handoff gates query only when it may be so. The facts must
never say "no" wrongly: a banned user or a handed-off conversation always reaches its gate."""
from __future__ import annotations

from sqlalchemy import select, update

from bot.conversation.pending import next_turn
from bot.core.db import db
from bot.dialog.handoff import open_handoff
from bot.dialog.moderation.bans import ban
from models import Handoff, Message, User, UserBan
from models.base import utcnow
from tests.conftest import run_jobs, send


def facts(app, phone):
    with app.app_context(), db.session_scope() as session:
        user = session.scalars(select(User).where(User.phone == phone)).one()
        turn = next_turn(session, user.id)
        return turn.maybe_banned, turn.maybe_handed_off


def stored_turn(client, phone, text="hello"):
    """Stores a turn and leaves it unanswered (direct intake: the reply job waits in RQ, nobody runs it)."""
    send(client, phone, text)


def test_facts_follow_bans_and_handoffs(app, client):
    phone = "+967712000701"
    stored_turn(client, phone)
    assert facts(app, phone) == (False, False)
    with app.app_context(), db.session_scope() as session:
        user = session.scalars(select(User).where(User.phone == phone)).one()
        row = ban(session, user, None, None, "test")
        conversation_id = session.scalars(select(Message.conversation_id).where(Message.user_id == user.id)).first()
    assert facts(app, phone) == (True, False)
    with app.app_context(), db.session_scope() as session:
        session.execute(update(UserBan).where(UserBan.id == row.id).values(lifted_at=utcnow()))
        user = session.get(User, row.user_id)
        open_handoff(session, user, conversation_id)
    assert facts(app, phone) == (False, True)
    with app.app_context(), db.session_scope() as session:
        session.execute(update(Handoff).values(status="closed"))
    assert facts(app, phone) == (False, False)


def test_an_expired_ban_still_sends_the_turn_to_the_gate_which_lets_it_pass(app, client, twilio):
    phone = "+967712000702"
    stored_turn(client, phone, "first")
    run_jobs(app)
    with app.app_context(), db.session_scope() as session:
        user = session.scalars(select(User).where(User.phone == phone)).one()
        row = ban(session, user, None, 1, "test")
        session.flush()
        row.expires_at = utcnow().replace(year=2000)
    stored_turn(client, phone, "second")
    assert facts(app, phone) == (True, False), "a ban not lifted, even expired, is a maybe"
    run_jobs(app)
    assert len(twilio.sent_to(phone)) == 2, "the expired ban silenced the user"
