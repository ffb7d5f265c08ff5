"""Small fake HTTP servers on 127.0.0.1 standing in for Twilio's REST API and an OpenAI-compatible API.

The real `twilio` and `openai` clients talk to them over HTTP; nothing inside the clients is patched.
Both run in a background thread of the test process (or the benchmark) and record what they received.
"""
from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "test-auth-token"


class _Server:
    handler: type[BaseHTTPRequestHandler]

    def start(self) -> "_Server":
        handler = type("BoundHandler", (self.handler,), {"fake": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake = None

    def log_message(self, *args):
        pass

    def reply(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _TwilioHandler(_Handler):
    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        form = {k: v[0] if len(v) == 1 else v for k, v in urllib.parse.parse_qs(raw, keep_blank_values=True).items()}
        status, payload = self.fake.handle_create(self.path, self.headers.get("Authorization", ""), form)
        self.reply(status, payload)


class FakeTwilio(_Server):
    """Accepts `messages.create`, records it, and can fail on purpose per recipient.

    `rules[to] = {"status": 429, "code": 20429, "times": 2}` fails the first 2 attempts to `to`;
    without "times" every attempt fails. `outage_until` (a `time.time()`) fails every attempt with a 500 until
    then. `callbacks` = "none" | "ordered" | "reversed" replays signed
    status callbacks (sent, delivered, read) to the StatusCallback URL, as Twilio does.
    """

    handler = _TwilioHandler

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN, callbacks: str = "none"):
        self.account_sid, self.auth_token, self.callbacks = account_sid, auth_token, callbacks
        self.lock = threading.Lock()
        self.messages: list[dict] = []
        self.attempts: list[dict] = []
        self.rules: dict[str, dict] = {}
        self._tries: dict[str, int] = {}
        self.delay = 0.0
        self.outage_until = 0.0

    def handle_create(self, path: str, auth: str, form: dict) -> tuple[int, dict]:
        if self.delay:
            time.sleep(self.delay)
        expected = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        to = form.get("To", "")
        with self.lock:
            self.attempts.append({"t": time.time(), "path": path, "form": form})
            self._tries[to] = self._tries.get(to, 0) + 1
            tries = self._tries[to]
        if path != expected:
            return 404, {"code": 20404, "message": f"unknown path {path}", "status": 404}
        if auth != "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode():
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}
        if time.time() < self.outage_until:
            return 500, {"code": 20500, "message": "injected outage", "status": 500}
        rule = self.rules.get(to)
        if rule and tries <= rule.get("times", 10**9):
            return rule["status"], {"code": rule["code"], "message": f"injected {rule['code']}",
                                    "status": rule["status"]}
        if len(form.get("Body", "")) > 1600:
            return 400, {"code": 21617, "message": "body over 1600 characters", "status": 400}
        sid = "SM" + secrets.token_hex(16)
        record = {"sid": sid, "t": time.time(), "to": to, "from": form.get("From"), "body": form.get("Body", ""),
                  "status_callback": form.get("StatusCallback"), "content_sid": form.get("ContentSid"),
                  "content_variables": form.get("ContentVariables"), "media_url": form.get("MediaUrl"),
                  "persistent_action": form.get("PersistentAction")}
        with self.lock:
            self.messages.append(record)
        if record["status_callback"] and self.callbacks != "none":
            threading.Thread(target=self._replay, args=(record,), daemon=True).start()
        return 201, {"sid": sid, "status": "queued", "to": to, "from": form.get("From"), "body": record["body"],
                     "account_sid": self.account_sid, "direction": "outbound-api", "num_segments": "1",
                     "date_created": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
                     "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json"}

    def _replay(self, record: dict) -> None:
        statuses = ["sent", "delivered", "read"]
        if self.callbacks == "reversed":
            statuses.reverse()
        time.sleep(0.05)
        for status in statuses:
            post_signed(record["status_callback"], status_params(record["sid"], status, record["to"]),
                        self.auth_token)

    def sent_to(self, phone: str) -> list[dict]:
        with self.lock:
            return [m for m in self.messages if m["to"] == f"whatsapp:{phone}"]

    def attempts_to(self, phone: str) -> list[dict]:
        with self.lock:
            return [a for a in self.attempts if a["form"].get("To") == f"whatsapp:{phone}"]

    def wait_for(self, phone: str, n: int = 1, seconds: float = 15.0) -> list[dict]:
        deadline = time.time() + seconds
        while time.time() < deadline:
            got = self.sent_to(phone)
            if len(got) >= n:
                return got
            time.sleep(0.02)
        return self.sent_to(phone)


class _OpenAIHandler(_Handler):
    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status, payload = self.fake.handle_chat(self.path, json.loads(raw or b"{}"))
        self.reply(status, payload)


class FakeOpenAI(_Server):
    """Chat Completions that echo `FAKE-LLM: <last user text>`; `LONGANSWER` gets ~4,400 characters.

    `fail_status` / `fail_times` inject errors (e.g. 500 twice, or 429 always); `delay` slows every answer.
    `script` is a list of answers consumed one per request, before the echo takes over again:
    `{"content": "..."}`, `{"tool_calls": [{"name": "list_events", "arguments": {...}}]}` (arguments as a dict,
    or a string sent as is), both, or `{"status": 500}` for an error; `usage` overrides the token counts.
    `requests` records every request; `bodies` are their JSON bodies.
    """

    handler = _OpenAIHandler

    def __init__(self):
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.fail_status: int | None = None
        self.fail_times = 10**9
        self.delay = 0.0
        self.answer: str | None = None
        self.script: list[dict] = []

    @property
    def bodies(self) -> list[dict]:
        with self.lock:
            return [r["body"] for r in self.requests]

    def handle_chat(self, path: str, body: dict) -> tuple[int, dict]:
        with self.lock:
            self.requests.append({"t": time.time(), "path": path, "body": body})
            n = len(self.requests)
        if self.delay:
            time.sleep(self.delay)
        if self.fail_status and n <= self.fail_times:
            return self.fail_status, {"error": {"message": "injected", "type": "server_error", "code": None}}
        if not path.endswith("/chat/completions"):
            return 404, {"error": {"message": f"unknown path {path}", "type": "invalid_request_error"}}
        with self.lock:
            scripted = self.script.pop(0) if self.script else None
        if scripted is not None:
            return self._scripted(n, body, scripted)
        users = [m for m in body.get("messages", []) if m.get("role") == "user"]
        text = users[-1]["content"] if users else ""
        answer = self.answer or (long_answer() if "LONGANSWER" in text else f"FAKE-LLM: {text.strip()}")
        return 200, self._completion(n, body, {"role": "assistant", "content": answer}, "stop", None)

    def _scripted(self, n: int, body: dict, step: dict) -> tuple[int, dict]:
        if step.get("status"):
            return step["status"], {"error": {"message": "scripted", "type": "server_error", "code": None}}
        message: dict = {"role": "assistant", "content": step.get("content")}
        calls = step.get("tool_calls") or []
        if calls:
            message["tool_calls"] = [
                {"id": c.get("id") or f"call_{n}_{i}", "type": "function",
                 "function": {"name": c["name"], "arguments": c["arguments"] if isinstance(c.get("arguments"), str)
                              else json.dumps(c.get("arguments") or {}, ensure_ascii=False)}}
                for i, c in enumerate(calls)]
        return 200, self._completion(n, body, message, "tool_calls" if calls else "stop", step.get("usage"))

    @staticmethod
    def _completion(n: int, body: dict, message: dict, finish_reason: str, usage: dict | None) -> dict:
        usage = usage or {"prompt_tokens": 42, "completion_tokens": 17}
        return {"id": f"chatcmpl-{n}", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [{"index": 0, "finish_reason": finish_reason, "message": message}],
                "usage": {**usage, "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"]}}


def long_answer() -> str:
    return " ".join(f"Sentence number {i} explains one more detail about the festival programme."
                    for i in range(1, 61))


def status_params(sid: str, status: str, to: str, error_code: int | None = None) -> dict:
    params = {"MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT_SID, "MessageStatus": status,
              "SmsStatus": status, "To": to, "From": "whatsapp:+14155238886", "ApiVersion": "2010-04-01",
              "ChannelPrefix": "whatsapp"}
    if status == "read":
        params["EventType"] = "READ"
    if error_code is not None:
        params["ErrorCode"] = str(error_code)
    return params


def post_signed(url: str, params: dict, token: str = AUTH_TOKEN) -> int:
    signature = RequestValidator(token).compute_signature(url, params)
    request = urllib.request.Request(url, data=urllib.parse.urlencode(params).encode(),
                                     headers={"X-Twilio-Signature": signature,
                                              "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0
