"""The linear model of catalogues too large for dense one-vs-rest weights: one binary SVM per entry, trained
against the examples of its nearest entries only, with its weights stored sparse.

A dense one-vs-rest SVM costs 4 bytes per entry and column and a fit that grows with entries × phrasings, so
at 10,000 entries it is out of reach (docs/matching.md). Most of an entry's competition is local, though: the
entries that can be confused with it are the few whose phrasings share its words. So each entry's SVM is
fitted on its own examples (positive) and the examples of its ``neighbour_entries`` nearest entries by centroid
cosine (negative). Its problem only has the columns those rows have; it keeps its weights on the columns of
its own rows and, within the per-entry share of ``max_linear_weights``, on the other columns of largest weight.
The weights of all entries form one features × entries CSR matrix, and a query is one sparse product with it,
as nearest centroid was. Views with a dense word-vector block do not use this mode (the block would be a
dense entries-wide product per query).
"""
from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from sklearn.svm import _liblinear
from sklearn.svm._base import _get_liblinear_solver_type

from .config import SEED, MatcherConfig
from .scorers import class_centroids

BLOCK = 512  # entries per block of the centroid-similarity product (a dense block × entries of float32)
# The seed LinearSVC(random_state=SEED) hands liblinear (check_random_state(SEED).randint(max int)).
LIBLINEAR_SEED = int(np.random.RandomState(SEED).randint(np.iinfo("i").max))
PARALLEL_FROM = 1000  # entries from which the fits run in several processes (fit_processes)
_FORKED: dict = {}  # what a forked child of _map_entries reads: the fit of one entry
MIN_PER_FEATURE = 200  # a feature keeps the weights of at least this many entries (neighbour_max_share)


@dataclass
class SparseLinear:
    """Per-entry weights (features × entries, CSR) and intercepts, for the entries in ``classes`` order."""

    weights: csr_matrix
    intercepts: np.ndarray

    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.weights.data, self.weights.indices, self.weights.indptr, self.intercepts))

    def scores(self, x: csr_matrix) -> np.ndarray:
        """Scores of the rows of ``x`` (rows × entries, float64)."""
        return (x @ self.weights).toarray().astype(np.float64) + self.intercepts


def nearest_entries(x: csr_matrix, labels: np.ndarray, classes: np.ndarray, k: int, max_share: float) -> np.ndarray:
    """For each class (in ``classes`` order), the positions in ``classes`` of its ``k`` nearest other classes
    by centroid cosine (features most classes share left out, as in centroid scoring): classes × k. Keeping
    only each centroid's 100 strongest features, to make the product cheaper, cost Banking77 in this mode 2
    points (docs/matching.md)."""
    n = len(classes)
    k = min(k, n - 1)
    position = np.full(int(classes.max()) + 1, -1)
    position[classes] = np.arange(n)
    centroids = class_centroids(x, position[labels], n, max_share).T.tocsr()  # classes × features
    transposed = centroids.T.tocsr()
    out = np.zeros((n, k), dtype=np.int64)
    for start in range(0, n, BLOCK):
        sims = (centroids[start:start + BLOCK] @ transposed).toarray()
        rows = np.arange(sims.shape[0])
        sims[rows, rows + start] = -np.inf  # not its own neighbour
        if k < n - 1:
            top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        else:
            top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        out[start:start + BLOCK] = top
    return out


def _rows_by_class(labels: np.ndarray, classes: np.ndarray) -> list[np.ndarray]:
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.concatenate([classes, [np.iinfo(np.int64).max]]))
    return [order[bounds[i]:bounds[i + 1]] for i in range(len(classes))]


class _Columns:
    """Maps the columns a subproblem's rows use to 0..n-1 without sorting (a mark array over all columns):
    the mapping is monotonic, so CSR rows with sorted columns stay sorted."""

    def __init__(self, n_columns: int) -> None:
        self.mark = np.zeros(n_columns, dtype=bool)
        self.remap = np.zeros(n_columns, dtype=np.int32)

    def local(self, sub: csr_matrix) -> tuple[np.ndarray, csr_matrix]:
        self.mark[sub.indices] = True
        columns = np.flatnonzero(self.mark)
        self.mark[columns] = False
        self.remap[columns] = np.arange(len(columns), dtype=np.int32)
        local = csr_matrix((sub.data, self.remap[sub.indices], sub.indptr), shape=(sub.shape[0], len(columns)))
        local.has_sorted_indices = True
        return columns, local


@lru_cache(maxsize=4)
def _solver(loss: str) -> int:
    return _get_liblinear_solver_type("ovr", "l2", loss, True)


def train_binary(x: csr_matrix, positive: np.ndarray, sample_weight: np.ndarray, config: MatcherConfig) -> np.ndarray:
    """liblinear's binary L2-regularised SVM (dual), as ``LinearSVC(C, loss, random_state=SEED, tol=…)`` fits
    it, without its per-call validation (~2.5 ms, as much as the solver on a small problem; ``x`` must be
    float64 CSR with sorted indices): the weights, then the intercept. tests/nlu/test_sparse_linear.py checks
    it against LinearSVC, so a scikit-learn upgrade that changes this private entry point fails a test."""
    _liblinear.set_verbosity_wrap(0)
    raw, _ = _liblinear.train_wrap(x, positive.astype(np.float64), True, _solver(config.svm_loss),
                                   config.neighbour_tol, 1.0, config.svm_c, np.ones(2), config.neighbour_max_iter,
                                   LIBLINEAR_SEED, 0.1, np.ascontiguousarray(sample_weight, dtype=np.float64))
    return raw[0]


def _fit_one(x: csr_matrix, rows: np.ndarray, positive: np.ndarray, weights: np.ndarray | None,
             config: MatcherConfig, mapper: _Columns, budget: int) -> tuple[np.ndarray, np.ndarray, float]:
    """One entry's binary SVM on ``rows`` (``positive`` marks its own): (columns, weights, intercept). The
    weights are kept on the columns of its own rows and, up to ``budget`` columns in all, on the other columns of
    largest weight (the negative evidence of its neighbours' words)."""
    columns, sub = mapper.local(x[rows])
    sample_weight = np.ones(len(rows)) if weights is None else weights[rows]
    coef = train_binary(sub, positive, sample_weight, config)
    w, intercept = coef[:-1].astype(np.float32), float(coef[-1])
    keep = np.zeros(len(columns), dtype=bool)
    keep[sub[positive].indices] = True
    others = np.flatnonzero(~keep)
    budget = budget - int(keep.sum())
    if 0 < budget < len(others):
        others = others[np.argpartition(-np.abs(w[others]), budget - 1)[:budget]]
    keep[others[:max(budget, 0)]] = True
    return columns[keep], w[keep], intercept


def fit_sparse_linear(x: csr_matrix, labels: np.ndarray, classes: np.ndarray, weights: np.ndarray | None,
                      config: MatcherConfig) -> SparseLinear:
    """Per-entry SVMs against nearest entries (module docstring). ``labels`` are entry indices (rows of entries
    outside ``classes`` are never trained on)."""
    x = x.astype(np.float64)  # liblinear's type: converted once, not per entry
    x.sort_indices()
    rows_of = _rows_by_class(labels, classes)
    examples = np.isin(labels, classes)
    neighbours = nearest_entries(x[examples], labels[examples], classes, config.neighbour_entries,
                                 config.centroid_max_share)
    budget = config.max_linear_weights // len(classes)
    mapper = _Columns(x.shape[1])

    def fit(i: int) -> tuple[np.ndarray, np.ndarray, float]:
        rows = np.concatenate([rows_of[i]] + [rows_of[j] for j in neighbours[i]])
        positive = labels[rows] == classes[i]
        return _fit_one(x, rows, positive, weights, config, mapper, budget)

    return _assemble(_map_entries(fit, len(classes), config.fit_processes), x.shape[1], config)


def _map_entries(fit: Callable[[int], tuple], n: int, processes: int) -> list[tuple]:
    """``[fit(i) for i in range(n)]``, on ``processes`` forked processes for a large catalogue.

    Not threads: liblinear's random generator is one global, so two fits at once would not be deterministic.
    Each fit reseeds it, so the order (and the process) an entry is fitted in does not change its weights. The
    children inherit ``fit`` (and the rows it reads) through fork; only entry ranges and weights are pickled.
    """
    if processes <= 1 or n < PARALLEL_FROM or "fork" not in mp.get_all_start_methods():
        return [fit(i) for i in range(n)]
    step = -(-n // (4 * processes))
    _FORKED["fit"] = fit
    try:
        with ProcessPoolExecutor(processes, mp_context=mp.get_context("fork")) as pool:
            chunks = pool.map(_fit_range, [(start, min(start + step, n)) for start in range(0, n, step)])
            return [one for chunk in chunks for one in chunk]
    finally:
        _FORKED.clear()


def _fit_range(bounds: tuple[int, int]) -> list[tuple]:
    """In a forked child: the fits of entries ``bounds[0]`` to ``bounds[1] - 1``."""
    fit = _FORKED["fit"]
    return [fit(i) for i in range(*bounds)]


def strongest_per_feature(weights: csr_matrix, cap: int) -> csr_matrix:
    """The weights (features × entries) with at most ``cap`` entries per feature, those of largest magnitude
    (any CSR matrix: at most ``cap`` values per row).

    A query costs one multiply-add per stored weight of each of its features, and short n-grams ("th", "ال")
    are on the own columns of nearly every entry: at 10,000 entries they were most of a query's work. The
    weights they lose are the smallest of their row, the evidence a feature that everyone has gives least.
    """
    counts = np.diff(weights.indptr)
    if counts.max(initial=0) <= cap:
        return weights
    keep = np.ones(len(weights.data), dtype=bool)
    for row in np.flatnonzero(counts > cap):
        start, stop = weights.indptr[row], weights.indptr[row + 1]
        weakest = np.argpartition(np.abs(weights.data[start:stop]), stop - start - cap - 1)[:stop - start - cap]
        keep[start + weakest] = False
    indptr = np.concatenate([[0], np.cumsum(np.minimum(counts, cap))]).astype(weights.indptr.dtype)
    return csr_matrix((weights.data[keep], weights.indices[keep], indptr), shape=weights.shape)


def _assemble(fitted: list, n_columns: int, config: MatcherConfig) -> SparseLinear:
    """The per-entry (columns, weights, intercept) as one SparseLinear."""
    columns = np.concatenate([f[0] for f in fitted])
    values = np.concatenate([f[1] for f in fitted])
    entries = np.repeat(np.arange(len(fitted), dtype=np.int32), [len(f[0]) for f in fitted])
    weights = coo_matrix((values, (columns, entries)), shape=(n_columns, len(fitted)), dtype=np.float32).tocsr()
    weights = strongest_per_feature(weights, max(int(config.neighbour_max_share * len(fitted)), MIN_PER_FEATURE))
    return SparseLinear(weights, np.array([f[2] for f in fitted], dtype=np.float32))
