"""Channels turn provider payloads into `InboundTurn`s and our replies into provider calls.

`make_sender` picks the outbound provider from settings: Twilio's REST API when credentials are configured,
else the local outbox file the embedded mode and the terminal chat use.
"""
from __future__ import annotations

from typing import Protocol

from bot.channels.messages import OutboundMessage, SendResult
from bot.core.settings import Settings


class Sender(Protocol):
    def send(self, message: OutboundMessage) -> SendResult:
        """Sends one message; raises `SendError` (with `transient` set when a retry may succeed)."""


def make_sender(settings: Settings) -> Sender:
    if settings.twilio_account_sid and settings.twilio_auth_token:
        from bot.channels.twilio.sender import TwilioSender
        return TwilioSender(settings)
    from bot.channels.outbox import OutboxSender
    return OutboxSender(settings.outbox_path, settings.twilio_whatsapp_number)
