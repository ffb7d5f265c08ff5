"""Short answers to what the bot asked: a number from a list, yes/no, 👍/👎 (both languages, any digits)."""
from __future__ import annotations

import re

from bot.nlu.normalize import normalize

POSITIVE = {"1", "yes", "y", "yeah", "yep", "helpful", "good", "great", "ok", "👍", "نعم", "اي", "ايوه", "ايه",
            "اجل", "مفيد", "مفيده", "تمام", "ممتاز", "صح", "زين", "كويس", "بلى"}
NEGATIVE = {"2", "no", "n", "nope", "not helpful", "bad", "👎", "لا", "لاء", "مو مفيد", "غير مفيد", "مش مفيد",
            "سيء", "ما فاد", "ما ساعدني"}
_THUMBS = re.compile(r"^\s*(👍|👎)[\U0001F3FB-\U0001F3FF]?\s*$")


def feedback_value(text: str, words_count: bool = True) -> int | None:
    """+1, -1 or None for a reply to "Was this helpful?" (or any yes/no question); with `words_count` off
    only 👍/👎 count."""
    thumbs = _THUMBS.match(text)
    if thumbs:
        return 1 if thumbs.group(1) == "👍" else -1
    if not words_count:
        return None
    words = normalize(text)
    if words in POSITIVE:
        return 1
    if words in NEGATIVE:
        return -1
    return None


def option_number(text: str, count: int) -> int | None:
    """The option a reply picks from a list of `count` ("2", "٢"), or None."""
    words = normalize(text)
    if words.isdigit() and 1 <= int(words) <= count:
        return int(words)
    return None
