"""Splits a long answer into WhatsApp-sized parts without losing or reordering text.

Cuts fall on a paragraph break if one is near the end of the window, else after the last sentence end
(. ! ? … and Arabic ؟ ۔ ؛), else at the last space, and only as a last resort inside a word.
"""
from __future__ import annotations

import re

LIMIT = 1600
_SENTENCE_END = re.compile(r"[.!?…؟۔؛](?:[\"')\]»”’]*)\s+")
_SPACE = re.compile(r"\s+")


def _cut_point(text: str, limit: int) -> int:
    window = text[: limit + 1]
    paragraph = window.rfind("\n\n")
    if paragraph >= limit // 2:
        return paragraph
    ends = [m.end() for m in _SENTENCE_END.finditer(window) if m.end() <= limit]
    if ends and ends[-1] >= limit // 3:
        return ends[-1]
    spaces = [m.start() for m in _SPACE.finditer(window) if 0 < m.start() <= limit]
    if spaces:
        return spaces[-1]
    return limit


def split_message(text: str, limit: int = LIMIT) -> list[str]:
    """Returns the parts, each at most `limit` characters, in order; joined with spaces they give the text.

    Args:
        text: the whole answer.
        limit: the channel's per-message limit (Twilio: 1,600 characters).
    Returns:
        At least one part (an empty text gives one empty part).
    """
    text = text.strip()
    parts: list[str] = []
    while len(text) > limit:
        cut = _cut_point(text, limit)
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    parts.append(text)
    return [p for p in parts if p] or [""]
