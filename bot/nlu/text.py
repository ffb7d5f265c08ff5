"""Bilingual (Arabic + English) text normalisation: the one spelling every matcher feature is computed on.

Examples and the incoming WhatsApp message meet in the same form: users type without diacritics, mix
alef/hamza spellings, write ة as ه, use Arabic-Indic digits, and pepper messages with emoji and punctuation.

Standard library only and no imports from the package: scripts/build_static_embeddings.py loads this file by
path, in a virtual environment without the bot's dependencies.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Harakat (fathatan .. sukun, the extended marks up to U+065F) and the superscript alef U+0670: users
# almost never type them, so they only split otherwise identical words.
_DIACRITICS = re.compile("[\u064B-\u065F\u0670\u06D6-\u06ED]")
_TATWEEL = "\u0640"  # kashida: pure elongation, carries no meaning

_CHAR_MAP = str.maketrans({
    # Alef forms are spelled interchangeably in informal writing.
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا",
    # Final ya/alef maqsura and ta marbuta/ha are confused constantly in chat text.
    "ى": "ي", "ة": "ه",
    # Arabic-Indic and Persian (Eastern Arabic) digits -> ASCII so prices and counts match either way.
    **{chr(0x0660 + i): str(i) for i in range(10)},
    **{chr(0x06F0 + i): str(i) for i in range(10)},
    # Persian letter variants that Gulf/Yemeni phone keyboards sometimes produce.
    "ی": "ي", "ک": "ك",
})

# Apostrophes are deleted rather than spaced so "don't" and "dont" become one token.
_APOSTROPHES = re.compile("['\u2018\u2019\u02BC\u0060\u00B4]")
_SPACES = re.compile(r"\s+")

ARABIC_PREFIXES: tuple[str, ...] = ("وال", "بال", "فال", "كال", "لل", "ال", "و", "ب", "ل", "ف")
"""Clitic prefixes stripped by ``strip_arabic_prefix``; longest first so وال wins over و."""


def _is_kept(ch: str) -> bool:
    """Letters and digits survive; punctuation, symbols and emoji become spaces."""
    cat = unicodedata.category(ch)
    return cat[0] in "LN" or ch.isspace()


class _KeptOrSpace(dict):
    """`str.translate` table, filled on first sight of each character: itself if kept, else a space."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        self[code] = kept = ch if _is_kept(ch) else " "
        return kept


_KEPT_OR_SPACE = _KeptOrSpace()


@lru_cache(maxsize=8192)
def normalize(text: str, strip_prefixes: bool = False) -> str:
    """Return the canonical form used by every matcher.

    Steps: NFKC, case folding, Arabic diacritics and tatweel removed, alef forms → ا, ى → ي, ة → ه,
    Arabic-Indic/Persian digits → ASCII, apostrophes deleted, other punctuation/symbols/emoji → space,
    whitespace collapsed. With ``strip_prefixes`` Arabic clitic prefixes (ال، و، ب، ل، ف and combinations)
    are removed from each Arabic token as well.
    """
    if not text:
        return ""
    # NFKC first: it folds Arabic presentation forms (e.g. the ﻻ ligature) and full-width Latin.
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _DIACRITICS.sub("", text).replace(_TATWEEL, "")
    text = text.translate(_CHAR_MAP)
    text = _APOSTROPHES.sub("", text)
    text = text.translate(_KEPT_OR_SPACE)
    text = _SPACES.sub(" ", text).strip()
    if strip_prefixes:
        text = " ".join(strip_arabic_prefix(tok) for tok in text.split(" "))
    return text


def is_arabic_letter(ch: str) -> bool:
    """True for a character of the Arabic blocks (letters, and the marks and digits that share them)."""
    return "\u0600" <= ch <= "\u06FF" or "\u0750" <= ch <= "\u077F" or "\uFB50" <= ch <= "\uFEFF"


def strip_arabic_prefix(token: str, min_stem: int = 3) -> str:
    """Remove one clitic prefix from an Arabic token, keeping a stem of at least ``min_stem`` letters.

    Light on purpose: only the article and the one-letter conjunctions/prepositions, and only when the
    remainder is long enough to be a word (so وين or بكم are left alone).
    """
    if not token or not is_arabic_letter(token[0]):
        return token
    for prefix in ARABIC_PREFIXES:
        if token.startswith(prefix) and len(token) - len(prefix) >= min_stem:
            return token[len(prefix):]
    return token
