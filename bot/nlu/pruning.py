"""Fitting a linear model inside a memory budget: the TF-IDF columns a view keeps when its catalogue has so
many entries that dense per-entry weights over every column would not fit.

The OvR SVM stores one float32 weight per entry and column (``MatcherConfig.max_linear_weights``). Rather than
leave the linear model for nearest centroid when a catalogue crosses that budget (Banking77's 77 entries and
the built-in intents did, by 0.5 %), the view drops the columns fewest training texts have — mostly
content-word pairs and word bigrams seen once — until entries × columns fits. Single words and the concept
channel are never dropped: coverage (``KnownWords``) and the cross-lingual concepts read them.
A pruned channel is refitted with the kept columns as its fixed vocabulary, so the batch path
(``transform``), the query path (``query_row``) and the training rows agree.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import TfidfVectorizer


def protected_columns(vectorizer: TfidfVectorizer) -> np.ndarray:
    """Columns of one channel that are never dropped: single words (the concept channel is all of them)."""
    n = len(vectorizer.vocabulary_)
    if vectorizer.analyzer != "word":
        return np.zeros(n, dtype=bool)
    mask = np.zeros(n, dtype=bool)
    mask[[i for term, i in vectorizer.vocabulary_.items() if " " not in term]] = True
    return mask


def columns_to_keep(parts: Sequence[csr_matrix], protected: Sequence[np.ndarray], n_keep: int) -> list[np.ndarray]:
    """Per channel, a mask of the columns kept so that at most ``n_keep`` remain (or only protected ones):
    the unprotected columns with the lowest document frequency go first, ties in column order."""
    df = np.concatenate([np.bincount(p.indices, minlength=p.shape[1]) for p in parts])
    keep = np.ones(len(df), dtype=bool)
    n_drop = len(df) - n_keep
    if n_drop > 0:
        candidates = np.flatnonzero(~np.concatenate(protected))
        order = candidates[np.argsort(df[candidates], kind="stable")]
        keep[order[:n_drop]] = False
    bounds = np.cumsum([0] + [p.shape[1] for p in parts])
    masks = [keep[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    for mask, a, b in zip(masks, bounds[:-1], bounds[1:], strict=True):
        if b > a and not mask.any():  # a channel keeps its commonest column: an empty vocabulary cannot transform
            mask[int(np.argmax(df[a:b]))] = True
    return masks


def prune_channel(vectorizer: TfidfVectorizer, part: csr_matrix, keep: np.ndarray,
                  texts: Sequence[str]) -> csr_matrix:
    """Refit a channel on the columns in ``keep`` only (a fixed vocabulary, in the old column order) and
    return its rows. A column's IDF depends only on its own document frequency, so the kept columns keep
    their IDF; the rows are normalised over the kept columns, as every later ``transform`` will be."""
    if keep.all():
        return part
    terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
    vocabulary = {term: i for i, term in enumerate(t for t, kept in zip(terms, keep, strict=True) if kept)}
    return vectorizer.set_params(vocabulary=vocabulary).fit_transform(texts)


def prune_to_budget(vectorizers: Sequence[TfidfVectorizer], parts: list[csr_matrix], n_keep: int,
                    texts: Sequence[str]) -> list[csr_matrix]:
    """The channels' rows with at most ``n_keep`` columns in all (single words and concepts are never dropped,
    so a few more may remain); the vectorisers are refitted in place on the columns they keep."""
    if sum(p.shape[1] for p in parts) <= n_keep:
        return parts
    protected = [protected_columns(v) for v in vectorizers]
    masks = columns_to_keep(parts, protected, n_keep)
    return [prune_channel(v, p, m, texts) for v, p, m in zip(vectorizers, parts, masks, strict=True)]
