"""The HTTP transport under twilio's `Client`: every request goes to `TWILIO_API_BASE_URL` (any
Twilio-compatible endpoint, or a local fake).

`KeepAliveHttpClient` is twilio's `HttpClient` interface on the standard library's `http.client`, one
kept-alive connection per thread: `requests` (twilio's default transport) cost about a sixth of a worker's CPU
per reply in building and merging its request settings. With a proxy configured for the endpoint, twilio's own
`requests` client (origin rewritten the same way) is used instead.
"""
from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import select
import ssl
import threading
import time
from urllib.parse import urlencode, urlsplit, urlunsplit

import certifi
import requests
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response


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
        response = Response(reply.status, text, reply.headers)
        # returned from the local: threads share this client, and the attribute (twilio's, for its tests) may
        # already hold another thread's response by the time it is read back (a reply got another's SID)
        self._test_only_last_response = response
        return response

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


