"""Inbound WhatsApp webhooks as Twilio posts them, signed with the fakes' auth token, and raw HTTP requests."""
from __future__ import annotations

import secrets
import urllib.parse

from twilio.request_validator import RequestValidator

from .config import BOT_NUMBER, WEBHOOK_PATH

TEXTS = ["When does the festival start tonight?", "كم سعر التذكرة للحفلة؟",
         "Where is the venue for Thursday's concert?", "هل يوجد موقف سيارات قريب من المسرح؟",
         "Can I pay in rials at the door?", "ابغى اعرف مواعيد الفعاليات هذا الأسبوع",
         "Is there a discount for students?", "شكراً جزيلاً"]


def phone(pool: int, i: int) -> str:
    """Distinct Yemeni mobile numbers: +967 7<pool><7 digits>."""
    return f"+9677{pool}{i:07d}"


def inbound_params(account_sid: str, number: str, body: str, profile: str) -> dict[str, str]:
    sid = "SM" + secrets.token_hex(16)
    return {"SmsMessageSid": sid, "NumMedia": "0", "ProfileName": profile, "MessageType": "text", "SmsSid": sid,
            "WaId": number.lstrip("+"), "SmsStatus": "received", "Body": body, "To": BOT_NUMBER,
            "NumSegments": "1", "ReferralNumMedia": "0", "MessageSid": sid, "AccountSid": account_sid,
            "From": f"whatsapp:{number}", "ApiVersion": "2010-04-01"}


class Signer:
    """Signed webhook bodies for the server at `public` (the origin its PUBLIC_BASE_URL names)."""

    def __init__(self, public: str, account_sid: str, auth_token: str):
        self.validator = RequestValidator(auth_token)
        self.url = public + WEBHOOK_PATH
        self.account_sid = account_sid

    def signed(self, number: str, body: str, profile: str) -> tuple[str, str]:
        """(X-Twilio-Signature, urlencoded form) of one inbound text message with a fresh MessageSid."""
        params = inbound_params(self.account_sid, number, body, profile)
        return self.validator.compute_signature(self.url, params), urllib.parse.urlencode(params)

    def batch(self, count: int, pool: int, users: int, tag: str) -> list[tuple[str, str]]:
        return [self.signed(phone(pool, i % users), f"{TEXTS[i % len(TEXTS)]} {tag}{i}", f"Attendee {i % users}")
                for i in range(count)]


def raw_post(host: str, signature: str, body: str) -> bytes:
    data = body.encode()
    return (f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: TwilioProxy/1.1\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: {signature}\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


def raw_get(host: str, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
