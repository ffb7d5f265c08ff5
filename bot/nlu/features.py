"""Feature channels: the TF-IDF vectorisers of a view, how their rows are weighted and stacked into one row,
and the direct (sklearn-free) construction of one text's row from the fitted vocabularies."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize as l2_normalize

from .concepts import concept_text
from .config import MatcherConfig
from .dialect import canonical_dialect
from .stems import content_pairs, light_stem
from .text import normalize

# One fitted channel as the query path needs it: analyzer, vocabulary, IDF, first column, weight.
Analyzer = tuple[Callable[[str], list], dict, np.ndarray, int, np.float32]


def prepare(text: str) -> str:
    """The matcher's view of a text: normalised, with dialect function words canonicalised."""
    return canonical_dialect(normalize(text))


def stem_text(text: str) -> str:
    """Every word of a prepared text replaced by its light stem."""
    return " ".join(light_stem(w) for w in text.split())


def tfidf(analyzer: str, ngrams: tuple[int, int], preprocessor=None) -> TfidfVectorizer:
    """A sublinear TF-IDF vectoriser over prepared texts (``analyzer`` "char_wb", "char" or "word")."""
    # Texts are prepared already; token_pattern \S+ keeps one-letter Arabic words and digits.
    extra = {"token_pattern": r"\S+"} if analyzer == "word" else {}
    if preprocessor is not None:
        extra["preprocessor"] = preprocessor
    return TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True, lowercase=False,
                           dtype=np.float32, **extra)


def channel_vectorizers(config: MatcherConfig, stems: bool) -> tuple[list[TfidfVectorizer], list[float]]:
    """The vectorisers of a view and their weights: char_wb and word always; the experiments, content-word
    pairs and concepts as configured (those three only in the main view, ``stems``). Concepts come last:
    an additive concept channel is recognised by its position."""
    vectorizers = [tfidf("char_wb", config.char_ngrams), tfidf("word", config.word_ngrams)]
    weights = [1.0, config.word_weight]
    if config.char_ngrams_nowb:
        vectorizers.append(tfidf("char", config.char_ngrams_nowb))
        weights.append(1.0)
    if config.stem_ngrams and stems:
        vectorizers.append(tfidf("word", config.stem_ngrams, stem_text))
        weights.append(1.0)
    if config.pair_weight and stems:
        vectorizers.append(TfidfVectorizer(analyzer=content_pairs, sublinear_tf=True, lowercase=False,
                                           dtype=np.float32))
        weights.append(config.pair_weight)
    if config.concept_weight and stems:
        vectorizers.append(tfidf("word", (1, 1), concept_text))
        weights.append(config.concept_weight)
    return vectorizers, weights


def stack_channels(parts: list, weights: Sequence[float], additive: bool) -> csr_matrix:
    """One row per text: the weighted channels side by side, L2-normalised; with ``additive`` the last
    channel is added after the normalisation of the others instead of being normalised with them."""
    parts = [p * w if w != 1.0 else p for p, w in zip(parts, weights, strict=True)]
    if additive:
        return hstack([l2_normalize(hstack(parts[:-1]).tocsr()), parts[-1]]).tocsr()
    return l2_normalize(hstack(parts).tocsr())


def supervised_parts(vectorizers: list[TfidfVectorizer], texts: Sequence[str], parts: list, labels: np.ndarray,
                     rows: np.ndarray, n_classes: int, strength: float) -> list:
    """Scale each vectorizer's IDF by how concentrated a feature is in few classes (smoothed entropy), and
    return the channels transformed again with it."""
    beta, k = 1.0, max(n_classes, 2)
    onehot = csr_matrix((np.ones(len(labels)), (labels, np.arange(len(labels)))), shape=(n_classes, len(labels)))
    out = []
    for v, part in zip(vectorizers, parts, strict=True):
        b = part[rows].copy()
        b.data[:] = 1.0
        counts = (onehot @ b).tocsc()
        totals = np.asarray(counts.sum(axis=0)).ravel()
        cols = np.repeat(np.arange(counts.shape[1]), np.diff(counts.indptr))
        p = (counts.data + beta) / (totals[cols] + beta * k)
        entropy = np.bincount(cols, weights=-p * np.log(p), minlength=counts.shape[1])
        p0 = beta / (totals + beta * k)
        entropy += (k - np.diff(counts.indptr)) * (-p0 * np.log(p0))
        w = np.clip(1.0 - entropy / np.log(k), 0.0, 1.0)
        v.idf_ = (v.idf_ * (1.0 + strength * w)).astype(v.idf_.dtype)
        out.append(v.transform(texts))
    return out


def direct_query_possible(vectorizers: Sequence[TfidfVectorizer]) -> bool:
    """True when ``query_row`` reproduces the vectorisers' arithmetic (counts → 1 + log → × idf → l2)."""
    return all(v.sublinear_tf and v.use_idf and v.norm == "l2" and not v.binary for v in vectorizers)


def channel_analyzers(vectorizers: Sequence[TfidfVectorizer], weights: Sequence[float]) -> tuple[tuple, int]:
    """(one ``Analyzer`` per fitted vectoriser, total number of columns)."""
    offsets = np.cumsum([0] + [len(v.vocabulary_) for v in vectorizers])
    analyzers = tuple((v.build_analyzer(), v.vocabulary_, v.idf_.astype(np.float32), int(offset), np.float32(w))
                      for v, offset, w in zip(vectorizers, offsets[:-1], weights, strict=True))
    return analyzers, int(offsets[-1])


def _channel_row(analyzer: Analyzer, prepared: str) -> tuple[np.ndarray, np.ndarray] | None:
    """One channel's weighted, unit-norm TF-IDF row of the text as (columns, values); None when empty."""
    analyze, vocabulary, idf, offset, weight = analyzer
    counts: dict[int, int] = {}
    for feature in analyze(prepared):
        column = vocabulary.get(feature)
        if column is not None:
            counts[column] = counts.get(column, 0) + 1
    if not counts:
        return None
    columns = np.fromiter(counts, dtype=np.int64, count=len(counts))
    values = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
    values = (np.log(values) + np.float32(1)) * idf[columns]
    values *= weight / np.sqrt(np.dot(values, values))
    return columns + offset, values


def query_row(analyzers: Sequence[Analyzer], prepared: str, additive: bool) -> tuple[np.ndarray, np.ndarray]:
    """The text's stacked row as (columns, values), the arithmetic of ``stack_channels`` over the
    vectorisers' ``transform`` (up to float32 rounding; columns are not sorted)."""
    columns_parts, value_parts, total = [], [], np.float32(0)
    extra = None
    for n, analyzer in enumerate(analyzers):
        row = _channel_row(analyzer, prepared)
        if row is None:
            continue
        if additive and n == len(analyzers) - 1:
            extra = row
            continue
        columns_parts.append(row[0])
        value_parts.append(row[1])
        total += np.dot(row[1], row[1])
    if not columns_parts and extra is None:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    if total:
        value_parts = [v / np.sqrt(total) for v in value_parts]
    if extra is not None:
        columns_parts.append(extra[0])
        value_parts.append(extra[1])
    return np.concatenate(columns_parts), np.concatenate(value_parts)
