"""The moderated app the moderation tests share: the rules of RULES_CSV imported through the CLI; events; an
organizer of JAZZ, one of OUD only, an admin; an attendee with a JAZZ ticket."""
from __future__ import annotations

from sqlalchemy import select

from bot.core.db import db
from models import Event, EventOrganizer, User
from models.base import utcnow
from tests.dialog.journey import seed_ticket, upcoming_events

ATTENDEE, OWNER, OTHER, ADMIN = "+967719900001", "+967719900002", "+967719900003", "+967719900004"
RULES_CSV = """pattern,kind,action,replacement,active,note
خول,words,flag,,true,insult (not الدخول)
كلب,words,block,,,
go to hell,words,block,,,
idiot,words,replace,,,
\\b\\d{16}\\b,regex,replace,[card],,card numbers
"""


def import_rules(app, tmp_path, text: str = RULES_CSV) -> str:
    path = tmp_path / "rules.csv"
    path.write_text(text, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["moderation", "import", str(path)])
    assert result.exit_code == 0, result.output
    return result.output


def moderated_app(make_app, tmp_path, **settings):
    """The LLM is the fake one, which echoes what it is asked."""
    app = make_app(**settings)
    import_rules(app, tmp_path)
    with app.app_context(), db.session_scope() as session:
        session.add_all(upcoming_events(utcnow()))
        for phone, role in ((ATTENDEE, "attendee"), (OWNER, "organizer"), (OTHER, "organizer"), (ADMIN, "admin")):
            session.add(User(phone=phone, role=role, display_name=f"User {phone[-1]}"))
    with app.app_context(), db.session_scope() as session:
        user = {u.phone: u.id for u in session.scalars(select(User))}
        event = {e.code: e.id for e in session.scalars(select(Event))}
        session.add_all([EventOrganizer(event_id=event["JAZZ"], user_id=user[OWNER], created_at=utcnow()),
                         EventOrganizer(event_id=event["OUD"], user_id=user[OTHER], created_at=utcnow())])
    seed_ticket(app, ATTENDEE, "JAZZ", 1, ticket_code="MOD111")
    return app
