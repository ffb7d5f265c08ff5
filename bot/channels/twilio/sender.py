"""Messages sent through Twilio's Messages REST API, with Twilio's errors classified as transient or
permanent. The `Client` is composed, never subclassed."""
from __future__ import annotations

import http.client
import logging

import requests
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from bot.channels.messages import OutboundMessage, SendResult
from bot.channels.twilio.transport import make_http_client
from bot.core.errors import SendError
from bot.core.phones import WHATSAPP_PREFIX
from bot.core.settings import Settings

log = logging.getLogger(__name__)

# Twilio errors that no retry can fix: invalid number, opted out, outside the 24 h window, body too long... and
# 63018, WhatsApp's limit on the sender's business-initiated reach: retrying within seconds only hits it again
# (a broadcast pauses for BROADCAST_PAUSE_SECONDS instead)
PERMANENT_CODES = {21211, 21408, 21610, 21614, 21617, 63016, 63018, 63024, 63032}


class TwilioSender:
    def __init__(self, settings: Settings) -> None:
        http_client = make_http_client(settings.twilio_api_base_url, settings.twilio_timeout)
        self.client = Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http_client)
        self.from_number = settings.twilio_whatsapp_number
        self.status_callback = settings.status_callback_url

    def send(self, message: OutboundMessage) -> SendResult:
        params = {"from_": self.from_number, "to": WHATSAPP_PREFIX + message.to_phone}
        if self.status_callback:
            params["status_callback"] = callback_url(self.status_callback, message.ref)
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


def callback_url(base: str, ref: int | None) -> str:
    """The StatusCallback for one message: with our id (`m=`), its callbacks find the message even when the
    process that sent it died before storing the SID the REST call answered."""
    if ref is None:
        return base
    return f"{base}{'&' if '?' in base else '?'}m={ref}"


def _send_error(exc: TwilioException) -> SendError:
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    transient = code not in PERMANENT_CODES and (status is None or status == 429 or status >= 500)
    message = getattr(exc, "msg", None) or getattr(exc, "detail", None) or str(exc)
    return SendError(f"Twilio answered {status} ({code}): {message}", code=code, status=status,
                     transient=transient)
