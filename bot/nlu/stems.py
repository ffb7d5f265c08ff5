"""Light stems of normalised words, and the content-word pairs the matcher builds from them."""
from __future__ import annotations

from .text import is_arabic_letter, strip_arabic_prefix

ARABIC_SUFFIXES: tuple[str, ...] = ("ها", "هم", "نا", "ات", "ين", "ون", "ي", "ه", "ك")
"""Pronoun and plural suffixes removed by ``light_stem`` (one, longest first)."""
ENGLISH_SUFFIXES: tuple[str, ...] = ("ings", "ing", "es", "ed", "s")


def _strip_suffix(token: str, suffixes: tuple[str, ...]) -> str:
    for suffix in suffixes:
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            return token[: -len(suffix)]
    return token


def light_stem(token: str) -> str:
    """A light stem of one *normalised* token, used to tell whether a word is known in another form.

    Arabic: one clitic prefix (``strip_arabic_prefix``) and then one pronoun/plural suffix
    (ي ه ك ها هم نا ات ين ون), each only when at least 3 letters remain, so "التسجيل" and "تسجيلي" share
    the stem تسجيل. Latin: one of -ings -ing -es -ed -s when at least 3 letters remain ("refunds" →
    "refund"). Deliberately crude: it is only compared with stems made by the same function.
    """
    if not token:
        return token
    if is_arabic_letter(token[0]):
        return _strip_suffix(strip_arabic_prefix(token), ARABIC_SUFFIXES)
    if token.isascii() and token.isalpha():
        return _strip_suffix(token, ENGLISH_SUFFIXES)
    return token


def light_stems(token: str) -> tuple[str, ...]:
    """``light_stem`` and the readings it can get wrong: an Arabic first letter و ب ل ف may be part of the
    word (فعاليه, not ف + عاليه), so the suffix-only stem is included too. A stem ending in ت after a
    suffix was removed is a ta marbuta that turned into ت before the pronoun (تذكرتي, سيارتك), so the stem
    without it is included as well: it equals the stem of تذكره (ه is removed as a suffix). Distinct, most
    literal first."""
    if not token or not is_arabic_letter(token[0]):
        return (light_stem(token),)
    suffix_only = _strip_suffix(token, ARABIC_SUFFIXES)
    stems = [suffix_only, light_stem(token)]
    for stem in stems[:]:
        if stem != token and len(stem) >= 4 and stem.endswith("ت") and not token.endswith("ات"):
            stems.append(stem[:-1])
    return tuple(dict.fromkeys(stems))


# English closed-class words (articles, pronouns, auxiliaries and modals, prepositions, conjunctions) left out
# of ``content_pairs``, as ``normalize`` spells them (apostrophes deleted: im, ive, its). Negation and
# question words stay: they carry a request's intent ("not working"; "why" vs "how" to verify).
# scikit-learn's stop list is not used: it also drops content words such as "top", "up", "bill", "call".
PAIR_STOP_WORDS: frozenset[str] = frozenset((
    "a", "an", "the", "this", "that", "these", "those", "there", "here", "it", "its", "itself",
    "i", "me", "my", "mine", "myself", "im", "ive", "id", "ill", "you", "your", "yours", "yourself", "youre",
    "youve", "we", "us", "our", "ours", "ourselves",
    "he", "him", "his", "she", "her", "hers", "they", "them", "their", "theirs",
    "am", "is", "are", "was", "were", "be", "been", "being", "do", "does", "did", "doing", "have", "has", "had",
    "having",
    "will", "would", "shall", "should", "can", "could", "may", "might", "must",
    "of", "in", "on", "at", "to", "for", "from", "with", "by", "about", "into", "onto", "over", "under", "as",
    "than",
    "and", "or", "but", "if", "so", "then", "because", "while", "also", "just",
))


def content_pairs(prepared: str) -> list[str]:
    """Every unordered pair of distinct content-word light stems of a prepared text ("top+pend", "fail+top").

    A linear model over words adds their evidence independently; a pair feature lets it weigh two words
    *together* anywhere in the sentence (top-up + pending vs top-up + failed), which word bigrams see only
    when the words are adjacent. English closed-class words (``PAIR_STOP_WORDS``) and one-letter tokens are
    skipped; Arabic words are all kept.
    """
    stems = sorted({light_stem(w) for w in prepared.split() if len(w) > 1 and w not in PAIR_STOP_WORDS})
    return [f"{a}+{b}" for i, a in enumerate(stems) for b in stems[i + 1:]]
