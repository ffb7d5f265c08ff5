"""WhatsApp's 24-hour customer-service window: free-form text only within 24 hours of the user's last message;
outside it only an approved template (Twilio error 63016 otherwise)."""
from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.sql import as_utc

WINDOW = timedelta(hours=24)
# A free-form message must reach Twilio's queue well before the window closes: retries with backoff and
# Twilio's own queueing take time, and one landing a second late fails with 63016. Near the edge, use a template.
WINDOW_MARGIN = timedelta(minutes=10)


def in_window(last_inbound_at: datetime | None, now: datetime) -> bool:
    """Whether WhatsApp still accepts free-form text: the user wrote within 24 h (less a safety margin)."""
    return last_inbound_at is not None and now - as_utc(last_inbound_at) < WINDOW - WINDOW_MARGIN
