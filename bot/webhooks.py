"""Twilio's webhooks: inbound messages and status callbacks.

The request path only verifies, parses, stores and enqueues, then answers empty TwiML: no LLM or REST call
happens here, so Twilio's 15-second limit is never at risk.
"""
from __future__ import annotations

import functools
import hmac
import logging
from datetime import timedelta
from urllib.parse import unquote

import redis
from flask import Blueprint, Response, abort, current_app, request
from twilio.request_validator import RequestValidator

from bot.channels.twilio import clean_text, parse_inbound
from bot.db import db
from bot.errors import MalformedRequest
from bot.intake import store_inbound
from bot.intake_buffer import DUPLICATE, SCHEDULE
from bot.runtime import runtime
from bot.status import record_callback

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks/twilio")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


def signed_url() -> str:
    """The URL Twilio signed: behind a TLS-terminating proxy `request.url` is not it, so it is rebuilt
    from PUBLIC_BASE_URL, the path and the exact query string."""
    base = runtime().settings.public_base_url
    if not base:
        return request.url
    query = request.query_string.decode("latin-1")
    return base + request.path + (f"?{query}" if query else "")


class TwilioForm(dict):
    """A plain dict that RequestValidator reads without exceptions: it looks for `getall` (Flask's MultiDict
    has `getlist`), then `getlist`, then indexes — two exceptions per parameter for a dict."""

    def getall(self, name: str) -> list[str]:
        return [self[name]]


def twilio_form() -> TwilioForm:
    """The form Twilio posted, as a plain dict, parsed once per request.

    Twilio sends each parameter once (MediaUrl0, MediaUrl1, ... are distinct names), so a dict loses nothing
    that the signature covers; a form with a repeated name fails the signature and gets 403. Parsing the raw
    body (`parse_form`) costs a fraction of building werkzeug's MultiDict, on the webhook's hot path.
    `get_data` still enforces MAX_CONTENT_LENGTH (413).
    """
    form = request.environ.get("bot.form")
    if form is None:
        if request.mimetype != "application/x-www-form-urlencoded":
            form = TwilioForm(request.form.to_dict())
        else:
            form = parse_form(request.get_data(cache=True).decode("utf-8", "replace"))
        request.environ["bot.form"] = form
    return form


def parse_form(body: str) -> TwilioForm:
    """`dict(parse_qsl(body, keep_blank_values=True))`, in about 60 % of its time (tests/test_signature.py
    compares them on random input): most of Twilio's fields need no unquoting, and parse_qsl's per-field
    checks and coercions were the largest of the webhook's own costs after the Redis call."""
    form = TwilioForm()
    for field in body.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        if "+" in name:
            name = name.replace("+", " ")
        if "%" in name:
            name = unquote(name, errors="replace")
        if "+" in value:
            value = value.replace("+", " ")
        if "%" in value:
            value = unquote(value, errors="replace")
        form[name] = value
    return form


def twilio_signed(view):
    """Rejects with 403 any request whose X-Twilio-Signature does not match; nothing else runs."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not _valid_signature(signed_url(), twilio_form(), signature):
            log.warning("rejected unsigned or forged request path=%s", request.path)
            abort(403)
        return view(*args, **kwargs)
    return wrapper


def _valid_signature(url: str, form, signature: str) -> bool:
    """RequestValidator.validate computes two HMACs (the URL with and without its port) on every request; the
    URL as PUBLIC_BASE_URL spells it is what Twilio signs in the usual case, so that one is tried first and
    `validate` (both variants) only when it does not match."""
    validator = current_app.extensions["twilio_validator"]
    if hmac.compare_digest(validator.compute_signature(url, form).encode(), signature.encode()):
        return True
    return validator.validate(url, form, signature)


def empty_twiml() -> Response:
    return Response(EMPTY_TWIML, status=200, mimetype="text/xml")


@bp.post("/messages")
@twilio_signed
def inbound_message() -> Response:
    turn = parse_inbound(twilio_form())
    rt = runtime()
    if rt.intake_buffer is not None and _buffered(rt, turn):
        return empty_twiml()
    with db.engine.begin() as connection:
        stored = store_inbound(connection, turn, timedelta(minutes=rt.settings.conversation_idle_minutes))
    if stored is not None:
        try:
            rt.queue.enqueue_reply(stored.user_id, stored.message_id)
        except Exception:  # noqa: BLE001 - the turn is stored; the user's next job or a requeue answers it
            log.exception("enqueue failed message_id=%s user_id=%s", stored.message_id, stored.user_id)
        log.info("turn stored message_sid=%s message_id=%s user_id=%s", turn.channel_message_id,
                 stored.message_id, stored.user_id)
    return empty_twiml()


def _buffered(rt, turn) -> bool:
    """Hands the turn to Redis (bot/intake_buffer.py); False when Redis failed and the caller must store it
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
        except Exception:  # noqa: BLE001 - buffered; the flag expires and the next message or sweep schedules it
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
    code = clean_text(form.get("ErrorCode")).strip()
    payload = {k: clean_text(v)[:500] for k, v in form.items()}
    record_callback(db.session(), sid, state[:20], int(code) if code.isdigit() else None, payload)
    return empty_twiml()


def init_app(app) -> None:
    app.extensions["twilio_validator"] = RequestValidator(app.config["SETTINGS"].signing_token)
    app.register_blueprint(bp)
