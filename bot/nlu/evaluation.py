"""Offline evaluation of the matcher by cross-validation: held-out scores, folds that keep near-duplicate
phrasings together, and the softmax temperature and thresholds fitted from them
(scripts/bench_matching.py, docs/matching.md)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .config import MatcherConfig
from .entries import Entry
from .features import prepare, tfidf
from .scorers import softmax
from .training import fit_views
from .views import View


def cross_validated_scores(entries: Sequence[Entry], folds: int = 5, config: MatcherConfig | None = None,
                           fold_of: Sequence[Sequence[int]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Raw held-out scores (examples × entries) and true entry indices under ``folds``-fold CV.

    Example ``j`` of every entry goes to fold ``j % folds``: deterministic and stratified by entry, so every
    entry keeps most of its phrasings in each training fold. ``fold_of[i][j]``, when given, is the fold of
    example ``j`` of entry ``i`` instead (e.g. ``grouped_folds``, which keeps near-duplicates together).
    """
    config = config or MatcherConfig()
    if fold_of is None:
        fold_of = [[j % folds for j in range(len(e.examples))] for e in entries]
    scores_all, truth_all = [], []
    for fold in range(folds):
        train = [Entry(e.key, e.kind, tuple(x for x, f in zip(e.examples, fold_of[i], strict=True) if f != fold),
                       e.context) for i, e in enumerate(entries)]
        test = [(i, x) for i, e in enumerate(entries) for x, f in zip(e.examples, fold_of[i], strict=True)
                if f == fold]
        view = fit_views(train, config)[0]
        if not test or view is None:
            continue
        scores_all.append(_raw_scores(view, [prepare(t) for _, t in test], len(entries)))
        truth_all.extend(i for i, _ in test)
    return np.vstack(scores_all), np.array(truth_all)


def _raw_scores(view: View, prepared: list[str], n_entries: int) -> np.ndarray:
    """The view's raw scores of prepared texts (texts × entries; −inf for entries it never saw)."""
    full = np.full((len(prepared), n_entries), -np.inf)
    full[:, view.classes] = view.batch_scores(prepared)
    return full


def grouped_folds(entries: Sequence[Entry], folds: int = 5, min_cosine: float = 0.6) -> list[list[int]]:
    """Folds that keep near-duplicate phrasings of an entry together: examples whose word TF-IDF cosine is
    at least ``min_cosine`` are joined (transitively) into one group, and each group goes whole to the fold
    that holds the fewest of the entry's examples so far (ties: the lowest fold). Training files with
    augmented near-copies ("didn't work" / "didn't piece of work") otherwise let plain CV test a phrasing
    whose copy it trained on. Deterministic."""
    prepared = [[prepare(x) for x in e.examples] for e in entries]
    vectorizer = tfidf("word", (1, 1)).fit([t for texts in prepared for t in texts if t] or ["x"])
    return [_spread_over_folds(_near_duplicate_groups(texts, vectorizer, min_cosine), len(texts), folds)
            for texts in prepared]


def _root(parent: list[int], a: int) -> int:
    """Union-find root of ``a``, halving the path on the way."""
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


def _near_duplicate_groups(texts: list[str], vectorizer, min_cosine: float) -> list[list[int]]:
    """Indices of ``texts`` grouped by transitive word TF-IDF cosine ≥ ``min_cosine``; groups in order of
    their first member, members ascending."""
    n = len(texts)
    parent = list(range(n))
    if n:
        rows = vectorizer.transform(texts)
        close = (rows @ rows.T).tocoo()
        for a, b, value in zip(close.row, close.col, close.data, strict=True):
            if a < b and value >= min_cosine:
                parent[_root(parent, b)] = _root(parent, a)
    groups: dict[int, list[int]] = {}
    for j in range(n):
        groups.setdefault(_root(parent, j), []).append(j)
    return list(groups.values())


def _spread_over_folds(groups: list[list[int]], n: int, folds: int) -> list[int]:
    """The fold of each of ``n`` examples: biggest groups first, each to the emptiest fold (ties: lowest)."""
    sizes, fold_of = [0] * folds, [0] * n
    for members in sorted(groups, key=lambda m: (-len(m), m[0])):
        fold = int(np.argmin(sizes))
        sizes[fold] += len(members)
        for j in members:
            fold_of[j] = fold
    return fold_of


def fit_temperature(entries: Sequence[Entry], folds: int = 5, config: MatcherConfig | None = None,
                    grid: Sequence[float] = (0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.5)) -> float:
    """Temperature in ``grid`` minimising the log-loss of held-out examples under cross-validation.

    Used offline (scripts/bench_matching.py --fit-temperature) to set the defaults in MatcherConfig.
    """
    scores, truth = cross_validated_scores(entries, folds, config)
    losses = [-np.mean(np.log(softmax(scores, t)[np.arange(len(truth)), truth] + 1e-12)) for t in grid]
    return float(grid[int(np.argmin(losses))])


def choose_thresholds(entries: Sequence[Entry], answer_precision: float = 0.95, clarify_precision: float = 0.5,
                      folds: int = 5, config: MatcherConfig | None = None) -> tuple[float, float]:
    """(high, low) from cross-validated confidences of the entries' own phrasings.

    ``high`` is the lowest confidence (on a 0.05 grid) above which held-out top-1 answers reach
    ``answer_precision``; ``low`` the lowest above which they reach ``clarify_precision``. Out-of-scope
    behaviour is then checked separately (it cannot be fitted from in-scope phrasings alone).
    """
    config = config or MatcherConfig()
    scores, truth = cross_validated_scores(entries, folds, config)
    probs = softmax(scores, config.svm_temperature)
    conf, correct = probs.max(axis=1), probs.argmax(axis=1) == truth

    def lowest(target: float) -> float:
        for t in np.round(np.arange(0.05, 1.0, 0.05), 2):
            sel = conf >= t
            if sel.any() and correct[sel].mean() >= target:
                return float(t)
        return 0.95
    return lowest(answer_precision), lowest(clarify_precision)
