"""The local outbox: replies appended as JSON lines to a file instead of going to Twilio.

Used by the embedded mode (no accounts needed) and read by `scripts/chat.py`.
"""
from __future__ import annotations

import json
import os
import secrets
import threading
import time

from bot.channels.messages import OutboundMessage, SendResult


class OutboxSender:
    def __init__(self, path: str, from_number: str) -> None:
        self.path = path
        self.from_number = from_number
        self._lock = threading.Lock()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def send(self, message: OutboundMessage) -> SendResult:
        sid = "OB" + secrets.token_hex(16)
        record = {"sid": sid, "t": time.time(), "from": self.from_number, "to": f"whatsapp:{message.to_phone}",
                  "body": message.body, "media_url": list(message.media_urls),
                  "content_sid": message.content_sid, "content_variables": message.content_variables,
                  "persistent_action": list(message.persistent_action)}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
        return SendResult(provider_id=sid, status="delivered")
