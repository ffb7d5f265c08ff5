"""Fitting the linear model inside its weight budget: columns few texts have are dropped before the matcher
leaves the dense SVM for per-entry sparse ones, and the query path agrees with the pruned vocabularies."""
from __future__ import annotations

import logging

import numpy as np

from bot.nlu.matcher import Matcher, MatcherConfig
from tests.nlu.test_nlu import ENTRIES, _slow_rank

# 5 entries × 150 columns: far fewer than the catalogue's n-grams, more than the 100-column floor.
TIGHT = MatcherConfig(max_linear_weights=5 * 150 + 5 * 256, min_linear_columns=100)


def test_a_catalogue_over_the_budget_stays_linear_with_fewer_columns():
    full, pruned = Matcher().fit(ENTRIES), Matcher(TIGHT).fit(ENTRIES)
    assert (full.mode, pruned.mode) == ("linear", "linear")
    assert pruned._main.weights.shape[0] < full._main.weights.shape[0]
    assert pruned.rank("where can i park my car", k=1)[0][0] == "parking"
    assert pruned.rank("كم سعر التذكرة", k=1)[0][0] == "tickets_price"


def test_single_words_survive_pruning_so_coverage_is_unchanged():
    full, pruned = Matcher().fit(ENTRIES), Matcher(TIGHT).fit(ENTRIES)
    for text in ("is there parking", "وين اوقف السيارة", "zzz parking"):
        assert pruned.evidence(text, "parking")[1] == full.evidence(text, "parking")[1]


def test_pruned_query_rows_equal_the_batch_path():
    m = Matcher(TIGHT).fit(ENTRIES)
    for text in ("how much is a ticket", "وين اوقف السيارة", "kam si3r el tadhkara", "hello", "zzz qqq"):
        assert [key for key, _ in m.rank(text, 3)] == _slow_rank(m, text, 3), text
        fast = m.probabilities([text])[0]
        slow = m.probabilities([text, "padding so the batch path is used"])[0]
        assert np.allclose(fast, slow, atol=1e-5), text


def test_large_modes_are_reported_and_logged(caplog):
    with caplog.at_level(logging.INFO, logger="bot.nlu.views"):
        m = Matcher(MatcherConfig(max_linear_weights=10, min_linear_columns=100)).fit(ENTRIES)
    assert m.mode == "sparse"
    assert "sparse linear mode" in caplog.text
    assert m.memory_bytes() > 0
    with caplog.at_level(logging.WARNING, logger="bot.nlu.views"):
        m = Matcher(MatcherConfig(max_linear_weights=10, min_linear_columns=100, large_mode="centroid")).fit(ENTRIES)
    assert m.mode == "centroid"
    assert "nearest-centroid mode" in caplog.text
    assert m.memory_bytes() > 0
