"""One decision for every message the bot starts (reminders, broadcasts, notices): may this user be reached
now, and how — free-form inside WhatsApp's 24-hour window, an approved template outside it, or not at all
(opted out, or outside the window with no template configured; free-form there fails with 63016)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.delivery.window import in_window
from models import User

FREE, TEMPLATE, SKIP = "free", "template", "skip"
OPTED_OUT, NO_TEMPLATE = "opted_out", "no_template"


@dataclass(frozen=True)
class Reach:
    how: str  # free | template | skip
    language: str  # the message's: the user's, or the template's when only the other one is configured
    content_sid: str | None = None
    reason: str | None = None  # why skipped: opted_out | no_template


def user_language(user: User) -> str:
    return "ar" if user.preferred_language == "ar" else "en"


def reach(user: User, now: datetime, templates: dict[str, str | None], bot_initiated: bool = True) -> Reach:
    """How to reach `user` now.

    Args:
        templates: {"en": content SID or None, "ar": ...}; the user's language's is used, else the other one.
        bot_initiated: False for a person's reply relayed by the bot (an opted-out user still gets those).
    """
    language = user_language(user)
    if bot_initiated and user.opted_out_at is not None:
        return Reach(SKIP, language, reason=OPTED_OUT)
    if in_window(user.last_inbound_at, now):
        return Reach(FREE, language)
    chosen = template_for(templates, language)
    if chosen is None:
        return Reach(SKIP, language, reason=NO_TEMPLATE)
    return Reach(TEMPLATE, chosen[1], content_sid=chosen[0])


def template_for(templates: dict[str, str | None], language: str) -> tuple[str, str] | None:
    """(content SID, its language): the user's language's template, else the other one, else None."""
    for candidate in (language, "en" if language == "ar" else "ar"):
        if templates.get(candidate):
            return templates[candidate], candidate
    return None
