"""Ticket QR images at signed, expiring, unguessable URLs (`/tickets/<token>.png`): Twilio fetches them to send
the ticket as WhatsApp media, and the attendee can open them again. A forged, expired or unknown token is 404."""
from __future__ import annotations

from flask import Blueprint, Response, abort
from sqlalchemy import select

from bot.core.db import db
from bot.core.signing import unsign
from bot.events.qr import TICKET_LINK_DAYS, TICKET_PURPOSE, checkin_link, qr_png
from bot.wiring import runtime
from models import Registration

bp = Blueprint("tickets", __name__)


@bp.get("/tickets/<token>.png")
def ticket_qr(token: str) -> Response:
    settings = runtime().settings
    code = unsign(settings.secret_key, TICKET_PURPOSE, token, TICKET_LINK_DAYS * 86400)
    if code is None:
        abort(404)
    found = db.session.scalar(select(Registration.id).where(Registration.ticket_code == code))
    if found is None:
        abort(404)
    png = qr_png(checkin_link(settings.twilio_whatsapp_number, code))
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=3600"})


def init_app(app) -> None:
    app.register_blueprint(bp)
