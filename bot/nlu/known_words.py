"""The words a view's examples use, each weighted by its IDF, and how much of a text they cover.

Coverage counts words by how telling they are ("please" next to an unknown word must not make a text look
familiar); a word also counts as known by a light stem ("تسجيلي" → تسجيل) or by its lexicon concept (a
synonym, dialect word or translation: "قهوه" when the catalogue says "coffee").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from .concepts import word_concept
from .stems import light_stems


def word_idf(word_vectorizer: TfidfVectorizer) -> dict[str, float]:
    """IDF of each single word in a fitted word vectoriser's vocabulary (bigrams left out)."""
    return {t: float(word_vectorizer.idf_[i]) for t, i in word_vectorizer.vocabulary_.items() if " " not in t}


def _highest_idf_by(idf: dict[str, float], keys_of) -> dict[str, float]:
    """For each key that ``keys_of(word)`` gives, the highest IDF of a word with that key."""
    out: dict[str, float] = {}
    for word, weight in idf.items():
        for key in keys_of(word):
            if weight > out.get(key, 0.0):
                out[key] = weight
    return out


def _concept_of(word: str) -> tuple[str, ...]:
    concept = word_concept(word)
    return () if concept is None else (concept,)


@dataclass
class KnownWords:
    """What a view's catalogue knows: IDF by word as spelled, by light stem and by concept."""

    idf: dict[str, float]
    stem_idf: dict[str, float]
    concept_idf: dict[str, float]
    # Unknown words weigh as much as the rarest known word.
    unknown_idf: float

    @classmethod
    def of(cls, word_vectorizer: TfidfVectorizer, texts: Sequence[str], uncounted: np.ndarray, *,
           stems: bool, concepts: bool) -> "KnownWords":
        """The known words of fitted texts, leaving out words only ``uncounted`` rows have (an entry's answers,
        the background class). Stems and concepts are looked up only when asked (the main view; not
        skeletons)."""
        idf = word_idf(word_vectorizer)
        if uncounted.any():
            example_words = {w for i in np.flatnonzero(~uncounted) for w in texts[i].split()}
            idf = {t: weight for t, weight in idf.items() if t in example_words}
        concept_idf = _highest_idf_by(idf, _concept_of) if stems and concepts else {}
        stem_idf = _highest_idf_by(idf, light_stems) if stems else {}
        return cls(idf, stem_idf, concept_idf, max(idf.values(), default=1.0))

    def weight(self, word: str) -> float | None:
        """The IDF the word is known with (as spelled, then by stem, then by concept); None if unknown."""
        weight = self.idf.get(word)
        if weight is None and self.stem_idf:
            weight = next((self.stem_idf[s] for s in light_stems(word) if s in self.stem_idf), None)
        if weight is None and self.concept_idf:
            weight = self.concept_idf.get(word_concept(word) or "")
        return weight

    def coverage(self, words: Sequence[str]) -> float:
        """IDF-weighted share of ``words`` that are known (words must not be empty)."""
        weights, known = [], 0.0
        for word in words:
            weight = self.weight(word)
            if weight is None:
                weights.append(self.unknown_idf)
            else:
                weights.append(weight)
                known += weight
        return known / sum(weights)
