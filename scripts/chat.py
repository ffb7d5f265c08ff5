"""Talk to the bot as a WhatsApp user, through the real signed webhook, and read its replies.

    python scripts/chat.py [--phone +967712345678] [--name "Sara"] [--url http://127.0.0.1:5000]

Each line you type is posted to /webhooks/twilio/messages exactly as Twilio would post it, signed with the
bot's auth token; replies are read from the local outbox the embedded mode writes. `/image URL`,
`/location LAT LNG [LABEL]` send media and location messages; `/quit` (or Ctrl-D) ends the chat.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from twilio.request_validator import RequestValidator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project's packages, wherever this runs from

from bot.core.settings import DEV_AUTH_TOKEN, INSTANCE_DIR

BOT_NUMBER = "whatsapp:+14155238886"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("CHAT_URL", "http://127.0.0.1:5000"))
    parser.add_argument("--phone", default="+967712345678")
    parser.add_argument("--name", default="Local Tester")
    parser.add_argument("--token", default=os.environ.get("TWILIO_AUTH_TOKEN") or DEV_AUTH_TOKEN)
    parser.add_argument("--public-base-url", default=os.environ.get("PUBLIC_BASE_URL"),
                        help="the origin the server verifies signatures against, if it has PUBLIC_BASE_URL")
    parser.add_argument("--outbox", default=os.environ.get("OUTBOX_PATH") or str(INSTANCE_DIR / "outbox.jsonl"))
    parser.add_argument("--wait", type=float, default=8.0, help="seconds to wait for replies after EOF")
    return parser.parse_args()


def form_for(args: argparse.Namespace, line: str) -> dict:
    sid = "SM" + secrets.token_hex(16)
    form = {"MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid, "AccountSid": "AC" + "0" * 32,
            "From": f"whatsapp:{args.phone}", "To": BOT_NUMBER, "ProfileName": args.name,
            "WaId": args.phone.lstrip("+"), "NumMedia": "0", "NumSegments": "1", "SmsStatus": "received",
            "ApiVersion": "2010-04-01", "MessageType": "text", "Body": line}
    if line.startswith("/image "):
        form.update(Body="", NumMedia="1", MessageType="image", MediaUrl0=line.split(" ", 1)[1],
                    MediaContentType0="image/jpeg")
    elif line.startswith("/location "):
        lat, lng, *label = line.split(" ", 3)[1:]
        form.update(Body="", MessageType="location", Latitude=lat, Longitude=lng, Label=" ".join(label))
    return form


def post(args: argparse.Namespace, form: dict) -> int:
    path = "/webhooks/twilio/messages"
    signed_url = (args.public_base_url or args.url).rstrip("/") + path
    signature = RequestValidator(args.token).compute_signature(signed_url, form)
    request = urllib.request.Request(args.url.rstrip("/") + path, data=urllib.parse.urlencode(form).encode(),
                                     headers={"X-Twilio-Signature": signature})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


class OutboxReader(threading.Thread):
    """Prints the outbox lines addressed to this phone as they are written."""

    def __init__(self, path: str, phone: str) -> None:
        super().__init__(daemon=True)
        self.path, self.to = Path(path), f"whatsapp:{phone}"
        self.offset = self.path.stat().st_size if self.path.exists() else 0
        self.last_reply = time.time()

    def run(self) -> None:
        while True:
            if self.path.exists():
                with self.path.open(encoding="utf-8") as f:
                    f.seek(self.offset)
                    for line in f:
                        if not line.endswith("\n"):
                            break
                        self.offset += len(line.encode("utf-8"))
                        self.show(json.loads(line))
            time.sleep(0.1)

    def show(self, record: dict) -> None:
        if record.get("to") != self.to:
            return
        self.last_reply = time.time()
        print(f"\n🤖 {record['body']}\n", flush=True)


def main() -> int:
    args = parse_args()
    reader = OutboxReader(args.outbox, args.phone)
    reader.start()
    interactive = sys.stdin.isatty()
    if interactive:
        print(f"Chatting as {args.name} ({args.phone}) with {args.url}. /quit to leave.\n")
    for line in sys.stdin:
        line = line.rstrip("\n")
        if line.strip() == "/quit":
            break
        if not line.strip():
            continue
        status = post(args, form_for(args, line))
        if status != 200:
            print(f"(the webhook answered {status})", file=sys.stderr)
    deadline = time.time() + args.wait
    while time.time() < deadline and time.time() - reader.last_reply < 3:
        time.sleep(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
