"""The scorers over a view's rows: a one-vs-rest linear SVM, or nearest centroid for catalogues too big for
dense per-class weights; and the softmax that turns scores into confidences."""
from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.preprocessing import normalize as l2_normalize
from sklearn.svm import LinearSVC

from .config import SEED, MatcherConfig

MIN_COMMON_CLASSES = 10


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise softmax of ``scores / temperature`` (−inf entries get probability 0)."""
    z = scores / temperature
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def fit_linear_svm(x: csr_matrix, labels: np.ndarray, sample_weight: np.ndarray | None,
                   config: MatcherConfig) -> tuple[LinearSVC, np.ndarray]:
    """A seeded one-vs-rest LinearSVC, and its weights as a float32 features × classes matrix.

    float32 halves the dense weight matrix (4 bytes × classes × features) at no accuracy cost. It is stored
    features × classes (C order) so a query's few features are a gather of whole rows; the SVM's coef_ stays
    a (transposed) view of it for sklearn's decision_function.
    """
    svm = LinearSVC(C=config.svm_c, class_weight=config.class_weight, loss=config.svm_loss, random_state=SEED)
    svm.fit(x, labels, sample_weight=sample_weight)
    weights = np.ascontiguousarray(svm.coef_.T, dtype=np.float32)
    svm.coef_ = weights.T
    svm.intercept_ = svm.intercept_.astype(np.float32)
    return svm, weights


def class_centroids(x: csr_matrix, labels: np.ndarray, n_classes: int, max_share: float) -> csr_matrix:
    """Unit mean of each class's rows, as features × classes, without the features most classes share.

    One sparse row per class keeps memory and latency proportional to the catalogue, not to classes ×
    vocabulary.
    """
    onehot = csr_matrix((np.ones(len(labels), dtype=np.float32), (labels, np.arange(len(labels)))),
                        shape=(n_classes, len(labels)))
    centroids = l2_normalize(onehot @ x).T.tocsr()  # features × classes
    return without_common_features(centroids, max_share)


def without_common_features(centroids: csr_matrix, max_share: float) -> csr_matrix:
    """The centroids (features × classes) without the features that more than `max_share` of the classes
    have: short n-grams such as "th" or "ال" add nearly the same to most classes, so they blur the ranking
    and are most of the work of every query (docs/matching.md: dropping those in over 10 % of the classes
    took Banking77 in centroid mode from 45 / 47 % to 63 / 67 % top-1, English / Arabic)."""
    per_row = np.diff(centroids.indptr)
    # in a small catalogue a feature of a handful of classes still tells them apart
    common = per_row > max(max_share * centroids.shape[1], MIN_COMMON_CLASSES)
    if not common.any():
        return centroids
    keep = ~np.repeat(common, per_row)
    indptr = np.concatenate([[0], np.cumsum(np.where(common, 0, per_row))]).astype(centroids.indptr.dtype)
    return csr_matrix((centroids.data[keep], centroids.indices[keep], indptr), shape=centroids.shape)
