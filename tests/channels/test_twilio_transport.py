"""The Twilio client's HTTP transport (bot/channels/twilio.py): twilio's real `Client` over `http.client` with a
kept-alive connection per thread, against small HTTP servers on 127.0.0.1 that behave as servers do — keep the
connection, close it while idle, answer too late.
"""
from __future__ import annotations

import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.channels.messages import OutboundMessage
from bot.channels.twilio.sender import TwilioSender
from bot.channels.twilio.transport import BaseUrlHttpClient, KeepAliveHttpClient, make_http_client
from bot.core.errors import SendError


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list = []
    close_after_reply = False
    delay = 0.0

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        self.seen.append({"peer": self.client_address[1], "path": self.path, "body": body,
                          "auth": self.headers.get("Authorization"), "type": self.headers.get("Content-Type")})
        time.sleep(self.delay)
        payload = json.dumps({"sid": f"SM{len(self.seen):032d}", "status": "queued"}).encode()
        try:
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            return
        if self.close_after_reply:
            self.close_connection = True  # as a server's idle timeout does: no "Connection: close" announced


@pytest.fixture
def server():
    handler = type("Handler", (_Recorder,), {"seen": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, handler
    httpd.shutdown()
    httpd.server_close()


def sender_for(settings, httpd, **changes) -> TwilioSender:
    base = f"http://127.0.0.1:{httpd.server_address[1]}/prefix"
    return TwilioSender(settings.replace(twilio_api_base_url=base, **changes))


def message(body="hello", media=()):
    return OutboundMessage(to_phone="+967712000600", body=body, media_urls=tuple(media))


def test_sends_reuse_one_connection_and_carry_the_form_and_auth(settings, server):
    httpd, handler = server
    sender = sender_for(settings, httpd)
    first = sender.send(message("مرحبا & welcome", media=["https://example.org/a.jpg", "https://example.org/b.jpg"]))
    second = sender.send(message("again"))
    assert (first.provider_id, second.provider_id) == (f"SM{1:032d}", f"SM{2:032d}")
    one, two = handler.seen
    assert one["peer"] == two["peer"], "the second send must reuse the kept-alive connection"
    assert one["path"] == f"/prefix/2010-04-01/Accounts/{settings.twilio_account_sid}/Messages.json"
    assert one["auth"].startswith("Basic ") and one["type"] == "application/x-www-form-urlencoded"
    assert "Body=%D9%85%D8%B1%D8%AD%D8%A8%D8%A7+%26+welcome" in one["body"]
    assert one["body"].count("MediaUrl=") == 2


def test_a_connection_the_server_closed_while_idle_is_replaced_and_nothing_is_sent_twice(settings, server):
    httpd, handler = server
    handler.close_after_reply = True
    sender = sender_for(settings, httpd)
    sender.send(message("one"))
    time.sleep(0.1)  # the server has closed its end
    sender.send(message("two"))
    assert [s["body"].count("Body=") for s in handler.seen] == [1, 1]
    assert len(handler.seen) == 2 and handler.seen[0]["peer"] != handler.seen[1]["peer"]


def test_a_late_answer_is_a_transient_network_error_and_the_next_send_works(settings, server):
    httpd, handler = server
    handler.delay = 1.0
    sender = sender_for(settings, httpd, twilio_timeout=0.2)
    with pytest.raises(SendError) as caught:
        sender.send(message("slow"))
    assert caught.value.transient and "network error" in str(caught.value)
    handler.delay = 0.0
    assert sender.send(message("fast")).provider_id
    assert len(handler.seen) == 2


def test_nobody_listening_is_a_transient_network_error(settings):
    sender = TwilioSender(settings.replace(twilio_api_base_url="http://127.0.0.1:1"))
    with pytest.raises(SendError) as caught:
        sender.send(message())
    assert caught.value.transient


def test_threads_keep_connections_of_their_own(settings, server):
    httpd, handler = server
    sender = sender_for(settings, httpd)
    threads = [threading.Thread(target=lambda: [sender.send(message(f"t{n}")) for n in range(3)]) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(handler.seen) == 9
    assert len({s["peer"] for s in handler.seen}) == 3


def test_a_proxy_in_the_environment_selects_twilios_requests_client(monkeypatch):
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(make_http_client("https://api.twilio.com", 5.0), KeepAliveHttpClient)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    client = make_http_client("https://api.twilio.com", 5.0)
    assert isinstance(client, BaseUrlHttpClient)
    assert client.session.proxies["https"] == "http://proxy.internal:3128"


def test_https_endpoints_verify_certificates_and_hostnames():
    client = KeepAliveHttpClient("https://api.twilio.com", 5.0)
    connection = client._connection(5.0)
    assert connection._context.verify_mode == ssl.CERT_REQUIRED and connection._context.check_hostname
    assert (connection.host, connection.port) == ("api.twilio.com", 443)


class _Echo(_Recorder):
    """Answers with a SID made of the recipient's digits: a send can tell its own answer from another's."""

    def do_POST(self):
        form = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        to = [v for k, v in (p.split("=", 1) for p in form.split("&")) if k == "To"][0]
        payload = json.dumps({"sid": "SM" + "".join(c for c in to if c.isdigit()).rjust(32, "0"),
                              "status": "queued"}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def test_threads_sharing_the_client_each_get_their_own_answer(settings):
    """Broadcasts send from several threads through one client: each must read its own response (the client once
    handed back the attribute it had just set, which another thread could overwrite in between)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    sender = sender_for(settings, httpd)
    wrong: list = []

    def send_many(thread: int) -> None:
        for n in range(60):
            phone = f"+9677{thread:02d}{n:05d}"
            sid = sender.send(OutboundMessage(to_phone=phone, body="x")).provider_id
            if not sid.endswith(phone.lstrip("+")):
                wrong.append((phone, sid))
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: the race needs a switch at one bytecode
    try:
        threads = [threading.Thread(target=send_many, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(switch)
        httpd.shutdown()
        httpd.server_close()
    assert wrong == []
