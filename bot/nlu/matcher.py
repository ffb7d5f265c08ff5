"""Trained, deterministic matcher from a user message to an intent or FAQ entry.

Design (measured in docs/matching.md):

* Every example and query goes through ``normalize`` + ``canonical_dialect`` (``prepare``).
* Features (``channels.py``): TF-IDF of char_wb 2–5-grams (robust to typos, clitics and inflection in both
  scripts) joined with TF-IDF of word 1–2-grams (word order and exact words) and of unordered content-word
  pairs (``content_pairs``: two words that matter together wherever they stand), rows L2-normalised.
* Scorer (``scorers.py``): one-vs-rest linear SVM. When classes × features would exceed ``max_linear_weights``
  the columns fewest texts have are dropped until it fits (``pruning.py``; Banking77 with the intents keeps
  113k of 456k columns at no loss on dev); only when fewer than ``min_linear_columns`` would remain (over ~480
  entries) does the matcher switch to one binary SVM per entry trained against its nearest entries, with
  sparse weights scored as one sparse product (``neighbours.py``), which scales to 10,000+ entries and keeps
  Banking77's accuracy within half a point. ``Matcher.mode`` says which ran ("linear", "sparse"; "centroid"
  only with ``large_mode="centroid"``).
* Arabizi queries ("kam si3r el tadhkara") are also scored by a second SVM trained on the consonant
  skeletons of the Arabic examples (see ``arabic_skeleton``); the more confident of the two views is used.
* Confidence: softmax of the scores divided by a temperature. The default temperatures were fitted by
  cross-validation (``fit_temperature``, ``evaluation.py``); the top candidate's probability is the
  confidence in [0, 1].

* Queries: a single text's TF-IDF row is built directly from the fitted vocabularies (``View.query``) and
  scored without sklearn's per-call validation; the top k come from ``argpartition``.
* Evidence: cosine to the entry's nearest example (``View.similarity``), and the IDF-weighted share of the
  text's words the catalogue knows as spelled or by a light stem (``known_words.py``).

Everything is deterministic: liblinear is seeded, ties are broken by entry order. This module holds the
``Matcher`` and re-exports the names callers import from it (``MatcherConfig``, ``THRESHOLDS``, ``prepare``,
the evaluation helpers); the views and their fitting live in ``views.py`` and ``training.py``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .arabizi import ARABIZI_WORDS, arabizi_skeleton, is_arabizi
from .config import SEED, THRESHOLDS, MatcherConfig
from .entries import Entry
from .evaluation import choose_thresholds, cross_validated_scores, fit_temperature, grouped_folds
from .features import prepare, stem_text
from .scorers import softmax, without_common_features
from .training import context_parts, fit_views
from .views import View

__all__ = [
    "SEED", "THRESHOLDS", "Matcher", "MatcherConfig", "choose_thresholds", "context_parts", "cross_validated_scores",
    "fit_temperature", "grouped_folds", "prepare", "softmax", "stem_text", "without_common_features",
]


class Matcher:
    """Ranks entries for a text. ``Matcher().fit(entries).rank(text, k)`` → [(key, confidence), …]."""

    def __init__(self, config: MatcherConfig | None = None) -> None:
        self.config = config or MatcherConfig()
        self.keys: list[str] = []
        self.kinds: list[str] = []
        self._main: View | None = None
        self._skeleton: View | None = None

    @property
    def linear(self) -> bool:
        """True when a linear SVM scores (dense, or sparse per entry for large catalogues; False: centroid)."""
        return self.mode in ("linear", "sparse")

    @property
    def mode(self) -> str:
        """How the main view scores: "linear" (the dense SVM), "sparse" (per-entry SVMs against their nearest
        entries, for catalogues over the dense budget), "centroid" (``large_mode="centroid"``) or "empty"."""
        if self._main is None:
            return "empty"
        if self._main.svm is not None:
            return "linear"
        return "sparse" if self._main.sparse is not None else "centroid"

    def memory_bytes(self) -> int:
        """Bytes of the fitted arrays of both views (see ``View.memory_bytes``)."""
        return sum(v.memory_bytes() for v in (self._main, self._skeleton) if v is not None)

    def fit(self, entries: Sequence[Entry]) -> "Matcher":
        """Train on every example (English and Arabic) of every entry; returns self.

        Keys must be unique; entries without examples are kept but can never be returned.
        """
        main, skeleton = fit_views(entries, self.config)  # raises ValueError on duplicate keys
        self.keys, self.kinds = [e.key for e in entries], [e.kind for e in entries]
        self._main, self._skeleton = main, skeleton
        return self

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated class probabilities, one row per text, columns in entry order."""
        n = len(self.keys)
        if self._main is None or not texts:
            return np.zeros((len(texts), n))
        prepared = [prepare(t) for t in texts]
        probs = self._main.probabilities(prepared, n)
        if self._skeleton is not None:
            for row, text in enumerate(texts):
                if is_arabizi(text):
                    skeleton = arabizi_skeleton(text)
                    if skeleton:
                        # The more confident view wins: Arabic words are only visible to the skeleton
                        # view, English loanwords ("fi wifi") only to the main one; averaging would halve
                        # the confidence of every Arabizi match and push it into the clarify band.
                        alt = self._skeleton.probabilities([skeleton], n)[0]
                        if alt.max() > probs[row].max():
                            probs[row] = alt
        # Texts with no letters or digits ("?!", an emoji) match nothing.
        probs[[i for i, p in enumerate(prepared) if not p]] = 0.0
        return probs

    def evidence(self, text: str, key: str) -> tuple[float, float]:
        """How well `text` is covered by what the catalogue knows, independent of the other entries.

        Returns:
            (similarity, coverage): the cosine similarity of the text to the nearest example of `key`, and
            the IDF-weighted share of the text's words found in any example, as spelled or by a light stem
            ("التسجيل" is known from "تسجيلي"). Out-of-scope questions ("tell me a joke") often win the softmax
            by default yet score low on both.
        """
        # Called once per routed message, so it must stay well under a millisecond at 10,000 entries
        # (scripts/bench_matching.py): the key → index map and each view's example row ranges, analyzers,
        # vocabularies and IDF are built on first use (a list search, a boolean mask over every example and
        # view.transform's input validation took ~1.6 ms).
        index = self._key_index().get(key) if self._main is not None else None
        if index is None:
            return 0.0, 0.0
        best = (0.0, 0.0)
        for view, prepared, words in self._evidence_views(text):
            best = max(best, (view.similarity(prepared, index), view.known.coverage(words)))
        return best

    def _evidence_views(self, text: str) -> list[tuple[View, str, list[str]]]:
        """(view, the text as that view sees it, the words whose coverage counts) for each view that applies
        to the text and leaves it some words: the main view, and the skeleton view for Arabizi."""
        arabizi = is_arabizi(text)
        prepared = prepare(text)
        words = prepared.split()
        if arabizi:
            # Arabizi function words (wain, el, fi, mumkin, ab8a) are how the text is written, not what it is
            # about, and no English example has them: they would count as unknown words of the highest
            # weight. Coverage looks at the other words.
            words = [w for w in words if w not in ARABIZI_WORDS] or words
        views = [(self._main, prepared, words)]
        if self._skeleton is not None and arabizi:
            skeleton = arabizi_skeleton(text)
            views.append((self._skeleton, skeleton, skeleton.split()))
        return [(view, prepared, words) for view, prepared, words in views if words]

    def _key_index(self) -> dict[str, int]:
        # Rebuilt after a refit, which replaces self.keys.
        cache = self.__dict__.get("_evidence_index")
        if cache is None or cache[0] is not self.keys:
            cache = self._evidence_index = (self.keys, {k: i for i, k in enumerate(self.keys)})
        return cache[1]

    def rank(self, text: str, k: int = 5) -> list[tuple[str, float]]:
        """Top-``k`` (key, confidence) pairs, best first; confidence in [0, 1], summing to ≤ 1."""
        if not self.keys:
            return []
        probs = self.probabilities([text])[0]
        if not probs.any():
            return []
        if k < len(probs):
            # Everything tied with the k-th best is kept so that ties still go to the earlier entry, exactly
            # as a stable full sort would (argpartition alone picks arbitrarily among ties).
            kth = probs[np.argpartition(-probs, k - 1)[k - 1]] if k > 0 else np.inf
            candidates = np.flatnonzero(probs >= kth)
        else:
            candidates = np.arange(len(probs))
        order = candidates[np.argsort(-probs[candidates], kind="stable")][:k]
        return [(self.keys[i], float(probs[i])) for i in order]
