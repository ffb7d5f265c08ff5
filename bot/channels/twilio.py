"""Twilio WhatsApp: inbound form → `InboundTurn`, outbound message → Messages REST call.

The `Client` is composed, never subclassed. `TWILIO_API_BASE_URL` points it at any Twilio-compatible endpoint
(or a local fake) through an HTTP client that rewrites the origin of every request.
"""
from __future__ import annotations

import functools
import logging
import math
import os
from urllib.parse import urlsplit, urlunsplit

import phonenumbers
import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from bot.errors import MalformedRequest, SendError
from bot.settings import Settings
from bot.turns import Attachment, InboundTurn, OutboundMessage, SendResult

log = logging.getLogger(__name__)

WHATSAPP_PREFIX = "whatsapp:"
MAX_BODY = 1600
# Twilio errors that no retry can fix: invalid number, opted out, outside the 24 h window, body too long...
PERMANENT_CODES = {21211, 21408, 21610, 21614, 21617, 63016, 63024, 63032}
KEPT_FIELDS = ("ButtonText", "ButtonPayload", "OriginalRepliedMessageSid", "ReferralSourceUrl",
               "ReferralHeadline", "ReferralBody", "ReferralSourceType", "ReferralSourceId", "ReferralCtwaClid",
               "NumSegments", "Forwarded", "FrequentlyForwarded")


def clean_text(value: str | None) -> str:
    """PostgreSQL text cannot hold NUL; everything else (RTL marks, emoji, quotes) is kept as sent."""
    return (value or "").replace("\x00", "")


@functools.lru_cache(maxsize=65536)
def to_e164(address: str) -> str:
    """`whatsapp:+967 712-345-678` → `+967712345678`; raises MalformedRequest when it is no phone number."""
    raw = address[len(WHATSAPP_PREFIX):] if address.startswith(WHATSAPP_PREFIX) else address
    raw = raw.strip()
    if not raw.startswith("+"):
        raw = "+" + raw
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException as exc:
        raise MalformedRequest(f"From is not a phone number: {address[:40]!r}") from exc
    if not phonenumbers.is_possible_number(number):
        raise MalformedRequest(f"From is not a possible phone number: {address[:40]!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _coordinate(value: str | None, bound: float) -> float | None:
    """A finite coordinate within ±bound, else None (no NaN or Infinity reaches the database or JSON)."""
    try:
        number = float(value) if value not in (None, "") else None
    except ValueError:
        return None
    if number is None or not math.isfinite(number) or abs(number) > bound:
        return None
    return number


def _attachments(form) -> tuple[Attachment, ...]:
    found = []
    try:
        count = min(int(form.get("NumMedia") or 0), 10)
    except ValueError:
        count = 0
    for i in range(count):
        url = form.get(f"MediaUrl{i}")
        if url:
            found.append(Attachment(kind="media", url=clean_text(url),
                                    content_type=clean_text(form.get(f"MediaContentType{i}")) or None))
    lat, lng = _coordinate(form.get("Latitude"), 90.0), _coordinate(form.get("Longitude"), 180.0)
    if lat is not None and lng is not None:
        found.append(Attachment(kind="location", latitude=lat, longitude=lng,
                                address=clean_text(form.get("Address")) or None,
                                label=clean_text(form.get("Label")) or None))
    return tuple(found)


def _message_type(form, attachments: tuple[Attachment, ...]) -> str:
    declared = clean_text(form.get("MessageType")).lower()
    if declared:
        return declared[:20]
    if any(a.kind == "location" for a in attachments):
        return "location"
    if attachments:
        return (attachments[0].content_type or "media").split("/")[0]
    return "text"


def parse_inbound(form) -> InboundTurn:
    """Builds the turn from Twilio's form; raises MalformedRequest when From or MessageSid is missing."""
    sid = clean_text(form.get("MessageSid") or form.get("SmsMessageSid")).strip()
    sender = clean_text(form.get("From")).strip()
    if not sid or not sender:
        raise MalformedRequest("a message webhook needs From and MessageSid")
    if len(sid) > 64:
        raise MalformedRequest("MessageSid is too long")
    attachments = _attachments(form)
    meta = {k: clean_text(form.get(k)) for k in KEPT_FIELDS if form.get(k)}
    return InboundTurn(channel_message_id=sid, phone=to_e164(sender), body=clean_text(form.get("Body")),
                       message_type=_message_type(form, attachments),
                       wa_id=clean_text(form.get("WaId"))[:32] or None,
                       profile_name=clean_text(form.get("ProfileName"))[:255] or None,
                       attachments=attachments, meta=meta)


class BaseUrlHttpClient(TwilioHttpClient):
    """Sends every request to `base_url` instead of the `*.twilio.com` origin the client builds."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        parts = urlsplit(base_url)
        self._scheme, self._netloc, self._prefix = parts.scheme, parts.netloc, parts.path.rstrip("/")

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False):
        parts = urlsplit(url)
        url = urlunsplit((self._scheme, self._netloc, self._prefix + parts.path, parts.query, parts.fragment))
        return super().request(method, url, params=params, data=data, headers=headers, auth=auth,
                               timeout=timeout, allow_redirects=allow_redirects)


class TwilioSender:
    def __init__(self, settings: Settings) -> None:
        http_client = BaseUrlHttpClient(settings.twilio_api_base_url, settings.twilio_timeout)
        _environment_once(http_client.session, settings.twilio_api_base_url)
        self.client = Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http_client)
        self.from_number = settings.twilio_whatsapp_number
        self.status_callback = settings.status_callback_url

    def send(self, message: OutboundMessage) -> SendResult:
        params = {"from_": self.from_number, "to": WHATSAPP_PREFIX + message.to_phone}
        if self.status_callback:
            params["status_callback"] = self.status_callback
        if message.content_sid:
            params["content_sid"] = message.content_sid
            if message.content_variables:
                params["content_variables"] = message.content_variables
        else:
            params["body"] = message.body
        if message.media_urls:
            params["media_url"] = list(message.media_urls)
        if message.persistent_action:
            params["persistent_action"] = list(message.persistent_action)
        try:
            created = self.client.messages.create(**params)
        except TwilioException as exc:
            raise _send_error(exc) from exc
        except requests.RequestException as exc:
            raise SendError(f"network error talking to Twilio: {exc}", transient=True) from exc
        return SendResult(provider_id=created.sid, status=created.status or "queued")


def _environment_once(session: requests.Session | None, base_url: str) -> None:
    """Reads proxy and CA-bundle settings from the environment once, not on every send: with `trust_env`
    requests looks them up (and parses no_proxy) per request, about a fifth of each send's CPU."""
    if session is None:
        return
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False


def _send_error(exc: TwilioException) -> SendError:
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    transient = code not in PERMANENT_CODES and (status is None or status == 429 or status >= 500)
    message = getattr(exc, "msg", None) or getattr(exc, "detail", None) or str(exc)
    return SendError(f"Twilio answered {status} ({code}): {message}", code=code, status=status,
                     transient=transient)
