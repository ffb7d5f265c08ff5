"""What a failed message's Twilio error means, for the message row and `users export`: the callback's own
text (`ErrorMessage`, or WhatsApp's `ChannelStatusMessage`) when it sends one, else the meaning of the codes
an events team meets most."""
from __future__ import annotations

# https://www.twilio.com/docs/api/errors — the WhatsApp failures seen in production
KNOWN = {
    21211: "invalid 'To' phone number",
    21408: "permission to send to this region is not enabled",
    21610: "the recipient has opted out (STOP) or blocked the sender",
    21614: "the number is not a mobile number",
    30003: "unreachable destination handset",
    30004: "message blocked by the recipient",
    30005: "unknown destination handset",
    30006: "landline or unreachable carrier",
    30007: "filtered by the carrier as spam",
    30008: "unknown error from the carrier",
    63003: "the recipient is not a WhatsApp user",
    63016: "outside the 24-hour window: only an approved template can be sent",
    63018: "WhatsApp rate limit for this sender exceeded",
    63024: "invalid message recipient",
    63032: "the user's WhatsApp account cannot receive this message (WhatsApp policy)",
    63049: "WhatsApp chose not to deliver this marketing message",
}


def error_text(payload: dict, code: int | None) -> str | None:
    """The reason a callback gives for a failure, cut to the column; None when it gives neither text nor a
    code."""
    said = (payload.get("ErrorMessage") or payload.get("ChannelStatusMessage") or "").strip()
    if said:
        return said[:1000]
    if code is None:
        return None
    return f"Twilio error {code}: {KNOWN.get(code, 'see https://www.twilio.com/docs/api/errors/' + str(code))}"
