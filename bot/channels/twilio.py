"""Twilio WhatsApp: inbound form → `InboundTurn`, outbound message → Messages REST call.

The `Client` is composed, never subclassed. `TWILIO_API_BASE_URL` points it at any Twilio-compatible endpoint
(or a local fake) through an HTTP client that rewrites the origin of every request. That HTTP client is
twilio's `HttpClient` interface on the standard library's `http.client`, one kept-alive connection per
thread: `requests` (twilio's default transport) cost about a sixth of a worker's CPU per reply in building
and merging its request settings. With a proxy configured for the endpoint, twilio's own `requests` client
(origin rewritten the same way) is used instead.
"""
from __future__ import annotations

import base64
import functools
import http.client
import json
import logging
import math
import os
import select
import ssl
import threading
import time
from urllib.parse import urlencode, urlsplit, urlunsplit

import certifi
import phonenumbers
import requests
from twilio.base.exceptions import TwilioException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
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


class KeepAliveHttpClient(HttpClient):
    """twilio's `HttpClient` on `http.client`: every request goes to `base_url`'s origin over this thread's
    kept-alive connection.

    A connection the server has closed while idle is noticed before it is reused (it reads as ready: EOF),
    as urllib3 does, and replaced; a request is never sent twice here — a failed send raises, and the
    caller's retry policy decides. Errors are `OSError` (timeouts included) or `http.client.HTTPException`.
    """

    def __init__(self, base_url: str, timeout: float, idle_seconds: float = 50.0) -> None:
        super().__init__(logging.getLogger("twilio.http_client"), False, timeout)
        parts = urlsplit(base_url)
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname or "", parts.port
        self._prefix = parts.path.rstrip("/")
        self._idle_seconds = idle_seconds
        self._local = threading.local()
        self._tls = None
        if self._https:
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
            self._tls = ssl.create_default_context(cafile=bundle)

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False) -> Response:
        parts = urlsplit(url)
        query = urlencode(params, doseq=True) if params else parts.query
        target = self._prefix + (parts.path or "/") + (f"?{query}" if query else "")
        headers = dict(headers or {})
        body = None
        if data is not None:
            if headers.get("Content-Type") in ("application/json", "application/scim+json"):
                body = json.dumps(data).encode()
            else:
                body = urlencode(data, doseq=True).encode()
                headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        connection = self._connection(timeout or self.timeout)
        try:
            connection.request(method.upper(), target, body=body, headers=headers)
            reply = connection.getresponse()
            text = reply.read().decode("utf-8", "replace")
        except BaseException:
            self._drop()
            raise
        if reply.will_close:
            self._drop()
        else:
            self._local.used = time.monotonic()
        self._test_only_last_response = Response(reply.status, text, reply.headers)
        return self._test_only_last_response

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is not None and (time.monotonic() - self._local.used > self._idle_seconds
                                       or _closed_by_peer(connection)):
            self._drop()
            connection = None
        if connection is None:
            if self._https:
                connection = http.client.HTTPSConnection(self._host, self._port, timeout=timeout,
                                                         context=self._tls)
            else:
                connection = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
            self._local.connection, self._local.used = connection, time.monotonic()
        elif connection.sock is not None:
            connection.sock.settimeout(timeout)
        connection.timeout = timeout
        return connection

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()


def _closed_by_peer(connection: http.client.HTTPConnection) -> bool:
    """An idle kept-alive socket that reads as ready has been closed (or sent something unasked)."""
    sock = connection.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def make_http_client(base_url: str, timeout: float) -> HttpClient:
    """The lean client, or twilio's `requests` client when the environment sets a proxy for `base_url`."""
    if requests.utils.get_environ_proxies(base_url):
        http_client = BaseUrlHttpClient(base_url, timeout)
        _environment_once(http_client.session, base_url)
        return http_client
    return KeepAliveHttpClient(base_url, timeout)


class TwilioSender:
    def __init__(self, settings: Settings) -> None:
        http_client = make_http_client(settings.twilio_api_base_url, settings.twilio_timeout)
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
        except (requests.RequestException, OSError, http.client.HTTPException) as exc:
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
