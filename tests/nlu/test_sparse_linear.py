"""The linear model of large catalogues (bot/nlu/neighbours.py): one binary SVM per entry against its nearest
entries, its weights stored sparse, scored as one sparse product."""
from __future__ import annotations

import pickle

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse import random as sparse_random
from sklearn.svm import LinearSVC

from bot.nlu.matcher import Matcher, MatcherConfig
from bot.nlu.neighbours import nearest_entries, strongest_per_feature, train_binary
from tests.nlu.test_nlu import ENTRIES

SPARSE = MatcherConfig(max_linear_weights=0)


def test_train_binary_is_linearsvc_without_the_validation():
    # The private liblinear entry point must give what LinearSVC gives (a scikit-learn upgrade that changes
    # it fails here, not silently in the matcher).
    x = sparse_random(80, 300, density=0.05, format="csr", random_state=1, dtype=np.float64)
    x.sort_indices()
    positive = np.random.default_rng(0).random(80) < 0.3
    weights = np.where(np.arange(80) % 7 == 0, 0.3, 1.0)
    config = MatcherConfig(neighbour_tol=1e-4, neighbour_max_iter=1000)
    raw = train_binary(x, positive, weights, config)
    svm = LinearSVC(C=config.svm_c, random_state=0, tol=1e-4).fit(x, positive.astype(int), sample_weight=weights)
    assert np.allclose(raw[:-1], svm.coef_[0]) and np.isclose(raw[-1], svm.intercept_[0])


def test_strongest_per_feature_keeps_the_largest_weights_of_a_crowded_feature():
    weights = csr_matrix(np.array([[0.1, -0.9, 0.5, 0.05, -0.3], [0.2, 0.0, 0.0, 0.0, 0.1]], dtype=np.float32))
    capped = strongest_per_feature(weights, 2).toarray()
    assert capped[0].tolist() == [0.0, np.float32(-0.9), np.float32(0.5), 0.0, 0.0]
    assert capped[1].tolist() == weights.toarray()[1].tolist()  # within the cap: untouched
    assert strongest_per_feature(weights, 5) is weights


def test_nearest_entries_are_other_entries_most_alike():
    # three classes: 0 and 1 share their words, 2 shares none
    x = csr_matrix(np.array([[1, 1, 0, 0], [1, 0.9, 0, 0], [0, 0, 1, 1]], dtype=np.float32))
    near = nearest_entries(x, np.array([0, 1, 2]), np.array([0, 1, 2]), 1, max_share=1.0)
    assert near[:, 0].tolist()[:2] == [1, 0]
    assert all(near[i, 0] != i for i in range(3))


def test_sparse_mode_ranks_like_the_dense_svm_and_survives_pickling():
    dense, sparse = Matcher().fit(ENTRIES), Matcher(SPARSE).fit(ENTRIES)
    assert (dense.mode, sparse.mode) == ("linear", "sparse")
    for text in ("is there parking for my car", "كم سعر التذكرة", "how much is a ticket", "وين اوقف السيارة"):
        assert sparse.rank(text, 1)[0][0] == dense.rank(text, 1)[0][0], text
    again = pickle.loads(pickle.dumps(sparse))
    assert again.rank("how much is a ticket", 3) == sparse.rank("how much is a ticket", 3)
    assert sparse.evidence("how much is a ticket", "tickets_price") == dense.evidence("how much is a ticket",
                                                                                       "tickets_price")
    # the Arabizi skeleton view of a large catalogue stays nearest centroid
    assert sparse._skeleton is None or sparse._skeleton.sparse is None


def test_forked_fits_equal_the_fits_in_one_process(monkeypatch):
    import bot.nlu.neighbours as neighbours
    monkeypatch.setattr(neighbours, "PARALLEL_FROM", 2)  # ENTRIES is small: fork anyway
    one = Matcher(MatcherConfig(max_linear_weights=0, fit_processes=1)).fit(ENTRIES)
    two = Matcher(MatcherConfig(max_linear_weights=0, fit_processes=2)).fit(ENTRIES)
    assert (one._main.sparse.weights != two._main.sparse.weights).nnz == 0
    assert np.array_equal(one._main.sparse.intercepts, two._main.sparse.intercepts)
    assert not neighbours._FORKED
