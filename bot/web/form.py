"""Twilio's posted form as a plain dict, parsed once per request (webhooks' hot path)."""
from __future__ import annotations

import logging
from urllib.parse import unquote

from flask import abort, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)
FORM_MIMETYPE = "application/x-www-form-urlencoded"


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

    Malformed input ends here with a 4xx, before anything that could throw sees it: another media type than
    Twilio's (415 — multipart's parser lets a part without a name through as a `None` key), a body that cannot
    be read (400: broken chunked framing, a client gone), over MAX_CONTENT_LENGTH (413, from `get_data`).
    """
    form = request.environ.get("bot.form")
    if form is None:
        if request.mimetype != FORM_MIMETYPE:
            abort(415, f"Twilio posts {FORM_MIMETYPE}")
        try:
            body = request.get_data(cache=True)
        except HTTPException:  # 413, or werkzeug's ClientDisconnected (400)
            raise
        except Exception as exc:  # the server's reader on bad framing: werkzeug's OSError, gunicorn's ParseException
            log.warning("unreadable request body path=%s: %s: %s", request.path, type(exc).__name__, exc)
            abort(400, "the request body could not be read")
        form = parse_form(body.decode("utf-8", "replace"))
        request.environ["bot.form"] = form
    return form


def parse_form(body: str) -> TwilioForm:
    """`dict(parse_qsl(body, keep_blank_values=True))`, in about 60 % of its time (tests/web/test_signature.py
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


