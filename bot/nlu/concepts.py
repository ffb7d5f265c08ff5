"""Concepts: the synonyms, dialect words and translations of ``lexicon.py`` that a text mentions.

A word is looked up as spelled, by a light stem, or (long words only) as a one-letter typo of a lexicon word.
The lookup tables are built on first use, so importing this module stays cheap.
"""
from __future__ import annotations

from functools import lru_cache

from .dialect import canonical_dialect
from .stems import light_stems
from .text import is_arabic_letter, normalize

FUZZY_MIN_LENGTH = {"latin": 5, "arabic": 6}
"""Words this long are also looked up with one typo after the first letter (a letter deleted, added,
changed, or two swapped). Arabic needs longer words: its roots put many real words one letter apart
(عاصمه "capital" / عاصفه "storm")."""


class _ConceptTables:
    """The lexicon's forms, indexed for lookup by spelling, by stem and by one-letter typo."""

    def __init__(self, words: dict[str, str], phrases: dict[tuple[str, ...], str]) -> None:
        self.words = words  # lexicon word → concept
        self.phrases = phrases  # multi-word form → concept
        self.stems = _stem_index(words)  # light stem of a lexicon word → concept
        # A lexicon word or one of its one-letter deletions → concept (unambiguous only), and → the lexicon
        # words it comes from.
        self.deletes, self.delete_words = _delete_index(words)


def _fuzzy_min(word: str) -> int:
    return FUZZY_MIN_LENGTH["arabic" if word and is_arabic_letter(word[0]) else "latin"]


def _deletes(word: str) -> set[str]:
    # The first letter is kept: typos rarely hit it, and "please" must not meet "lease".
    return {word[:i] + word[i + 1:] for i in range(1, len(word))}


def _stem_index(words: dict[str, str]) -> dict[str, str]:
    stems: dict[str, str] = {}
    for word, concept in words.items():
        for stem in light_stems(word):
            stems.setdefault(stem, concept)
    return stems


def _delete_index(words: dict[str, str]) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    # One-edit neighbours by the symmetric-delete method: two words within one edit share a deletion
    # (or one is a deletion of the other). Ambiguous deletions (two concepts) are dropped.
    deletes: dict[str, str | None] = {}
    sources: dict[str, list[str]] = {}
    for word, concept in words.items():
        if len(word) >= _fuzzy_min(word) - 1:
            for variant in _deletes(word) | {word}:
                deletes[variant] = concept if deletes.get(variant, concept) == concept else None
                sources.setdefault(variant, []).append(word)
    unambiguous = {k: v for k, v in deletes.items() if v is not None}
    return unambiguous, {k: tuple(sources[k]) for k in unambiguous}


@lru_cache(maxsize=1)
def _tables() -> _ConceptTables:
    # The lexicon is loaded with the tables, on first use, so that importing the normaliser stays cheap.
    from .lexicon import concept_index
    return _ConceptTables(*concept_index(lambda form: canonical_dialect(normalize(form))))


@lru_cache(maxsize=65536)
def word_concept(token: str) -> str | None:
    """The lexicon concept of one prepared token, as spelled or by a light stem (None if it has none)."""
    tables = _tables()
    concept = tables.words.get(token)
    if concept is None and len(token) >= 3:
        concept = next((tables.stems[s] for s in light_stems(token) if s in tables.stems), None)
    if concept is None and len(token) >= _fuzzy_min(token) and not token.isdigit():
        # A typo: the token (or a deletion of it) is a lexicon word or one of its deletions — and really one
        # edit from that word: deleting a different letter on each side meets words two edits apart
        # ("status" and "starts" both give "stats").
        concept = next((tables.deletes[v] for v in (token, *sorted(_deletes(token)))
                        if v in tables.deletes and any(one_edit_apart(token, w) for w in tables.delete_words[v])),
                       None)
    return concept


def one_edit_apart(a: str, b: str) -> bool:
    """True when `b` is `a` with one letter deleted, added or changed, or two neighbours swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return a == b
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1:] == b[i + 1:] or (a[i:i + 2] == b[i:i + 2][::-1] and a[i + 2:] == b[i + 2:])
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return longer[i + 1:] == shorter[i:]


def concepts(prepared: str) -> list[str]:
    """The lexicon concepts a *prepared* text mentions, in order, e.g. "ابغي اجيب ولدي" → ["child"].

    Multi-word forms ("كرسي متحرك", "customer service") are matched first; their words are not looked up
    again. Single words match as spelled or by a light stem (كراسي, لسيارتي)."""
    phrases = _tables().phrases
    tokens = prepared.split()
    out: list[str] = []
    i = 0
    while i < len(tokens):
        for length in (3, 2):
            phrase = tuple(tokens[i:i + length])
            if len(phrase) == length and phrase in phrases:
                out.append(phrases[phrase])
                i += length
                break
        else:
            concept = word_concept(tokens[i])
            if concept is not None:
                out.append(concept)
            i += 1
    return out


def concept_text(prepared: str) -> str:
    """``concepts`` as one space-separated string (the matcher's concept channel analyses it as words)."""
    return " ".join(concepts(prepared))
