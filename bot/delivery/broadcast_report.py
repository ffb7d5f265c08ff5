"""A broadcast's outcome in words, for its author's summary and `/broadcasts`: sent, delivered, read, skipped,
and the failures by Twilio error code, each with a one-line meaning in the organizer's language."""
from __future__ import annotations

from bot.delivery.audience import Outcome
from bot.delivery.errors import KNOWN
from bot.i18n import catalog, localize

SKIP_REASONS = ("opted_out", "no_template", "banned", "cancelled")


def describe(outcome: Outcome, language: str) -> str:
    """The counts, one per line; failures and skips only when there are some."""
    def n(value: int) -> str:
        return localize.number(value, language)

    lines = [catalog.say("broadcast_counts", language, recipients=n(outcome.recipients), sent=n(outcome.accepted),
                         delivered=n(outcome.delivered), read=n(outcome.read))]
    if outcome.waiting:
        lines.append(catalog.say("broadcast_waiting", language, count=n(outcome.waiting)))
    for reason, count in sorted(outcome.skipped.items()):
        lines.append(catalog.say(f"broadcast_skipped_{reason if reason in SKIP_REASONS else 'other'}", language,
                                 count=n(count)))
    for code, count in sorted(outcome.failed.items(), key=lambda item: (item[0] is None, item[0] or 0)):
        lines.append(catalog.say("broadcast_failed_line", language, count=n(count), code=code or "—",
                                 meaning=meaning(code, language)))
    return "\n".join(lines)


def meaning(code: int | None, language: str) -> str:
    """What a Twilio error code means, in the organizer's language where the catalog has it."""
    key = f"twilio_error_{code}"
    if code is not None and key in catalog.MESSAGES:
        return catalog.say(key, language)
    if code in KNOWN:
        return KNOWN[code]
    return catalog.say("twilio_error_other", language)
