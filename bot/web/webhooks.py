"""Twilio's webhooks: inbound messages and status callbacks.

The request path only verifies, parses, stores and enqueues, then answers empty TwiML: no LLM or REST call
happens here, so Twilio's 15-second limit is never at risk.
"""
from __future__ import annotations

import logging
from datetime import timedelta

import redis
from flask import Blueprint, Response, request
from twilio.request_validator import RequestValidator

from bot.channels.twilio.inbound import clean_text, parse_inbound
from bot.core.db import db
from bot.core.errors import MalformedRequest
from bot.delivery.status import record_callback
from bot.intake.buffer import DUPLICATE, SCHEDULE
from bot.intake.retry import in_transaction
from bot.intake.store import store_inbound
from bot.web.form import twilio_form
from bot.web.signature import twilio_signed
from bot.wiring import runtime

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks/twilio")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


def empty_twiml() -> Response:
    return Response(EMPTY_TWIML, status=200, mimetype="text/xml")


@bp.post("/messages")
@twilio_signed
def inbound_message() -> Response:
    turn = parse_inbound(twilio_form())
    rt = runtime()
    if rt.intake_buffer is not None and _buffered(rt, turn):
        return empty_twiml()
    idle_gap = timedelta(minutes=rt.settings.conversation_idle_minutes)
    stored = in_transaction(db.engine, lambda connection: store_inbound(connection, turn, idle_gap))
    if stored is not None:
        try:
            rt.queue.enqueue_reply(stored.user_id, stored.message_id)
        except Exception:  # the turn is stored; the user's next job or a requeue answers it
            log.exception("enqueue failed message_id=%s user_id=%s", stored.message_id, stored.user_id)
        log.info("turn stored message_sid=%s message_id=%s user_id=%s", turn.channel_message_id,
                 stored.message_id, stored.user_id)
    return empty_twiml()


def _buffered(rt, turn) -> bool:
    """Hands the turn to Redis (bot/intake/buffer.py); False when Redis failed and the caller must store it
    in PostgreSQL itself."""
    try:
        outcome = rt.intake_buffer.push(turn)
    except redis.RedisError:
        log.exception("intake buffer unavailable; storing directly message_sid=%s", turn.channel_message_id)
        return False
    if outcome == DUPLICATE:
        log.info("duplicate delivery ignored message_sid=%s", turn.channel_message_id)
    elif outcome == SCHEDULE:
        try:
            rt.queue.enqueue_ingest()
        except Exception:  # buffered; the flag expires and the next message or sweep schedules it
            log.exception("enqueue of the intake job failed message_sid=%s", turn.channel_message_id)
    return True


@bp.post("/status")
@twilio_signed
def status_callback() -> Response:
    form = twilio_form()
    sid = clean_text(form.get("MessageSid") or form.get("SmsSid")).strip()
    state = clean_text(form.get("MessageStatus") or form.get("SmsStatus")).strip().lower()
    if not sid or not state or len(sid) > 64:
        raise MalformedRequest("a status callback needs MessageSid and MessageStatus")
    # keys too: JSONB refuses a NUL anywhere, in a key as in a value
    payload = {clean_text(k)[:100]: clean_text(v)[:500] for k, v in form.items()}
    # autocommit: the recording statement (the SID's lock, the event, the move forward) is its own implicit
    # transaction on PostgreSQL, one round trip where BEGIN and COMMIT made three; each later step of the rare
    # early-callback path is idempotent and commits on its own
    with db.engine.connect() as connection:
        record_callback(connection.execution_options(isolation_level="AUTOCOMMIT"), sid, state[:20],
                        error_code(form.get("ErrorCode")), payload, ref=message_ref(request.args.get("m")))
    return empty_twiml()


def message_ref(value: str | None) -> int | None:
    """Our message id from the callback URL's `m=` (see `callback_url`), or None for anything else."""
    ref = (value or "").strip()
    return int(ref) if ref.isascii() and ref.isdigit() and len(ref) <= 12 else None


def error_code(value: str | None) -> int | None:
    """Twilio's ErrorCode (five ASCII digits) as an integer, or None for anything else — "²" passes
    `str.isdigit` but not `int`, and a 40-digit code overflows the integer column; the raw value stays in the
    event's payload."""
    code = (value or "").strip()
    if code.isascii() and code.isdigit() and len(code) <= 9:
        return int(code)
    return None


def init_app(app) -> None:
    app.extensions["twilio_validator"] = RequestValidator(app.config["SETTINGS"].signing_token)
    app.register_blueprint(bp)
