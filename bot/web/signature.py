"""`X-Twilio-Signature`: a request whose signature does not match gets 403 and nothing else runs."""
from __future__ import annotations

import functools
import hmac
import logging

from flask import abort, current_app, request

from bot.web.form import twilio_form
from bot.wiring import runtime

log = logging.getLogger(__name__)


def signed_url() -> str:
    """The URL Twilio signed: behind a TLS-terminating proxy `request.url` is not it, so it is rebuilt
    from PUBLIC_BASE_URL, the path and the exact query string."""
    base = runtime().settings.public_base_url
    if not base:
        return request.url
    query = request.query_string.decode("latin-1")
    return base + request.path + (f"?{query}" if query else "")


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
    try:
        if hmac.compare_digest(validator.compute_signature(url, form).encode(), signature.encode()):
            return True
        return validator.validate(url, form, signature)
    except ValueError:  # e.g. a Host header urlparse refuses (no PUBLIC_BASE_URL): not what Twilio signed
        return False


