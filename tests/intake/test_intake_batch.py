"""`store_inbound_batch` (bot/intake/batch.py), the buffered intake's way of storing a batch: the same rows as
`store_inbound` turn by turn, in a handful of statements. Real PostgreSQL; each case is checked against what
the one-turn path stores for the same turns.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from bot.app import create_app
from bot.channels.messages import Attachment, InboundTurn
from bot.core.db import db
from bot.core.settings import Settings
from bot.intake.batch import store_inbound_batch
from bot.intake.store import store_inbound
from models import Conversation, ConversationParticipant, Message, MessageAttachment, User
from models.base import utcnow
from models.migrate import upgrade

GAP = timedelta(minutes=30)


def turn(sid, phone, body="hi", name=None, wa_id=None, attachments=(), meta=None):
    return InboundTurn(channel_message_id=sid, phone=phone, body=body, message_type="text", wa_id=wa_id,
                       profile_name=name, attachments=tuple(attachments), meta=meta or {})


def snapshot(app) -> dict:
    """What was stored, with ids replaced by phones and SIDs so two databases' contents compare."""
    with app.app_context(), db.session_scope() as session:
        phone = dict(session.execute(select(User.id, User.phone)).all())
        users = {u.phone: (u.display_name, u.wa_id, u.last_inbound_at) for u in session.scalars(select(User))}
        conversations = {c.id: (phone[c.user_id], c.status, c.message_count, c.last_message_at)
                         for c in session.scalars(select(Conversation))}
        messages = [(phone[m.user_id], m.twilio_sid, m.body, m.created_at, conversations[m.conversation_id][:2],
                     m.meta, m.status, m.direction)
                    for m in session.scalars(select(Message).order_by(Message.id))]
        sid = dict(session.execute(select(Message.id, Message.twilio_sid)).all())
        attachments = sorted((sid[a.message_id], a.kind, a.url, a.latitude)
                             for a in session.scalars(select(MessageAttachment)))
        participants = sorted((phone.get(p.user_id, ""), p.role, conversations[p.conversation_id][0])
                              for p in session.scalars(select(ConversationParticipant)))
        per_user = {}
        for owner, sid_, *_ in messages:
            per_user.setdefault(owner, []).append(sid_)
    return {"users": users, "conversations": sorted(conversations.values()), "per_user": per_user,
            "messages": sorted(messages), "attachments": attachments, "participants": participants}


def store(app, turns, batch: bool) -> None:
    with app.app_context(), db.engine.begin() as connection:
        if batch:
            store_inbound_batch(connection, turns, GAP)
        else:
            for t, at in turns:
                store_inbound(connection, t, GAP, now=at)


def cases():
    t0 = utcnow() - timedelta(hours=3)
    at = lambda minutes: t0 + timedelta(minutes=minutes)  # noqa: E731
    pin = Attachment(kind="location", latitude=12.78, longitude=45.03, address="Crater", label="Hall")
    photo = Attachment(kind="media", url="https://api.twilio.com/m/1", content_type="image/jpeg")
    before = [(turn("SMold1", "+967712000700", "earlier", name="Old"), at(0)),
              (turn("SMold2", "+967712000701", "earlier"), at(0))]
    batch = [
        (turn("SMa1", "+967712000702", "new user", name="سارة", wa_id="967712000702"), at(100)),
        (turn("SMb1", "+967712000700", "same conversation"), at(20)),  # within the gap of SMold1
        (turn("SMa2", "+967712000702", "second", attachments=[pin, photo]), at(101)),
        (turn("SMc1", "+967712000701", "after the gap"), at(120)),  # its conversation is idle: closed, new one
        (turn("SMd1", "+967712000703", "buffered long"), at(10)),
        (turn("SMd2", "+967712000703", "split by the gap", name="Dee"), at(90)),
        (turn("SMold1", "+967712000700", "a repeat delivery"), at(21)),
        (turn("SMa3", "+967712000702", "third"), at(102)),
        # text that arrays must quote: braces, quotes, backslashes, commas, RTL marks, emoji, SQL-looking
        (turn("SMe1", "+967712000704", '{"a", b} \\ \u200f مرحبا 👋\'); DROP TABLE users;--',
              meta={"button": {"payload": "تذكرة, 2", "text": '"x"'}, "referral": None}), at(103)),
    ]
    return before, batch


@pytest.mark.parametrize("batch_first", [True, False])
def test_a_batch_stores_what_the_one_turn_path_stores(make_app, batch_first):
    before, batch = cases()
    app = make_app()
    store(app, before, batch=False)
    store(app, batch, batch=batch_first)
    got = snapshot(app)
    app2 = make_app()  # the same database, truncated: the other path for comparison
    store(app2, before, batch=False)
    store(app2, batch, batch=not batch_first)
    assert snapshot(app2) == got
    assert got["per_user"]["+967712000702"] == ["SMa1", "SMa2", "SMa3"]  # a user's turns keep their order
    assert got["users"]["+967712000702"][:2] == ("سارة", "967712000702")
    assert got["users"]["+967712000703"][0] == "Dee"
    assert len(got["messages"]) == 10 and len(got["attachments"]) == 2
    [odd] = [m for m in got["messages"] if m[1] == "SMe1"]
    assert odd[2] == batch[-1][0].body and odd[5] == batch[-1][0].meta


@pytest.mark.parametrize("batch_first", [True, False])
def test_on_sqlite_a_batch_stores_what_the_one_turn_path_stores(tmp_path, batch_first):
    """The embedded database takes the portable statements (PostgreSQL sends arrays): the same rows."""
    before, batch = cases()
    got = []
    for name, batched in (("a", batch_first), ("b", not batch_first)):
        url = f"sqlite:///{tmp_path}/{name}.sqlite3"
        upgrade(url)
        app = create_app(Settings(env="development", database_url=url,
                                  broadcast_check_seconds=0, reminder_check_seconds=0,
                                  outbox_path=str(tmp_path / "outbox.jsonl")))
        assert app.extensions["db"].engine.dialect.name == "sqlite"
        store(app, before, batch=False)
        store(app, batch, batch=batched)
        got.append(snapshot(app))
        app.extensions["db"].engine.dispose()
    assert got[0] == got[1]
    assert got[0]["per_user"]["+967712000702"] == ["SMa1", "SMa2", "SMa3"]
    assert len(got[0]["messages"]) == 10 and len(got[0]["attachments"]) == 2


def test_a_batch_takes_a_handful_of_statements(make_app):
    _, batch = cases()
    simple = [(t, at) for t, at in batch if t.phone in ("+967712000702",)]
    simple += [(turn(f"SMn{i}", f"+9677120008{i:02d}", "hello"), utcnow()) for i in range(50)]
    app = make_app()
    statements = []
    with app.app_context():
        listen = lambda *args: statements.append((args[2], args[5]))  # noqa: E731 - (sql, executemany)
        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            store(app, simple, batch=True)
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
    # users, conversations read, conversations opened, participants, messages, attachments, counters: each
    # one round trip (an executemany would show here once but cost a round trip per row)
    assert len(statements) <= 8, statements
    # an executemany is one round trip only when SQLAlchemy batched its rows into one INSERT (`name__0`, ...)
    assert not [sql for sql, many in statements if many and "__0)s" not in sql]
    assert len(snapshot(app)["messages"]) == 53
