"""An event's attendee list as CSV at a signed, expiring link (`/attendees/<token>.csv`), the one `/attendees`
gives its organizers. The link names the event and the organizer who asked; it is 404 when forged, expired,
or when that person may no longer act on the event (a revoked role closes links already sent)."""
from __future__ import annotations

from flask import Blueprint, Response, abort

from bot.core.db import db
from bot.core.signing import unsign
from bot.dialog.console.access import may_use_console, own_event
from bot.events.roster import ROSTER_LINK_HOURS, ROSTER_PURPOSE, read_token, roster_csv
from bot.wiring import runtime
from models import Event, User

bp = Blueprint("rosters", __name__)


@bp.get("/attendees/<token>.csv")
def attendees_csv(token: str) -> Response:
    signed = unsign(runtime().settings.secret_key, ROSTER_PURPOSE, token, ROSTER_LINK_HOURS * 3600)
    ids = read_token(signed) if signed else None
    if ids is None:
        abort(404)
    event, user = db.session.get(Event, ids[0]), db.session.get(User, ids[1])
    if event is None or user is None or not may_use_console(user) or own_event(db.session, user, event.code) is None:
        abort(404)
    name = "".join(ch for ch in event.code if ch.isascii() and (ch.isalnum() or ch in "-_"))
    return Response(roster_csv(db.session, event), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="attendees-{name}.csv"',
                             "Cache-Control": "private, no-store"})


def init_app(app) -> None:
    app.register_blueprint(bp)
