"""Twilio's posted form as a plain dict, parsed once per request (webhooks' hot path)."""
from __future__ import annotations

from urllib.parse import unquote

from flask import request


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


