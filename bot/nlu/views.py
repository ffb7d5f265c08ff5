"""A view: one representation of the text (prepared words, or consonant skeletons), its TF-IDF feature
channels and the scorer fitted over them, with a fast path for scoring one text."""
from __future__ import annotations

import copy
import logging
from typing import Sequence

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.svm import LinearSVC

from .concepts import concept_text
from .config import MatcherConfig
from .embeddings import WordVectors, word_vectors
from .features import (
    channel_analyzers,
    channel_vectorizers,
    direct_query_possible,
    query_row,
    stack_channels,
    supervised_parts,
)
from .known_words import KnownWords, word_idf
from .neighbours import SparseLinear, fit_sparse_linear
from .pruning import prune_to_budget
from .scorers import class_centroids, fit_linear_svm, softmax
from .stems import content_pairs

log = logging.getLogger(__name__)


class View:
    """TF-IDF features (char_wb + word + the configured channels) and a scorer over them."""

    def __init__(self, config: MatcherConfig, stems: bool = False) -> None:
        self.config = config
        self.stems = stems  # count a word as known by its light stem too (main view; not skeletons)
        self.vectorizers, self.channel_weights = channel_vectorizers(config, stems)
        self.word = self.vectorizers[1]
        self.no_concepts = False  # set by fit when no text mentions a lexicon concept
        self.embedding_weight = config.embedding_weight if stems else 0.0
        self.n_dense = 0  # columns of the dense word-vector block after the sparse features (0 = none)
        self.svm: LinearSVC | None = None
        self.centroids: csr_matrix | None = None
        self.sparse: SparseLinear | None = None  # per-entry SVMs of a large catalogue (neighbours.py)
        self.classes: np.ndarray = np.zeros(0, dtype=int)

    def _additive(self) -> bool:
        return bool(self.config.concept_weight and self.stems and self.config.concept_additive
                    and not self.no_concepts)

    def _stack(self, parts: list) -> csr_matrix:
        return stack_channels(parts, self.channel_weights, self._additive())

    # --- fitting -------------------------------------------------------------------------------------

    def fit(self, texts: list[str], labels: np.ndarray, n_classes: int,
            context: np.ndarray | None = None, context_weight: float = 0.0,
            background: np.ndarray | None = None) -> "View":
        """Fit the channels and the scorer on prepared ``texts`` with entry indices ``labels``.

        ``context`` marks weak examples (an entry's answers): they train the SVM with ``context_weight``
        but are not examples for evidence or (unless configured) coverage. ``background`` marks the rows of
        the background class: full examples, but their words are not known words for coverage. Returns self.
        """
        self._drop_empty_channels(texts)
        context = np.zeros(len(texts), dtype=bool) if context is None else context
        example_labels = labels[~context] if context.any() else labels
        self.classes = np.unique(example_labels)
        dense = self._vectors().dims if self.embedding_weight else 0
        full_x, linear = self._fit_channels(texts, labels, context, n_classes, dense)
        # Kept for absolute evidence (see Matcher.evidence): the softmax only says which entry is likeliest,
        # not whether the text resembles any example at all. Context texts are not examples.
        x = full_x[~context] if context.any() else full_x
        self.examples, self.labels = x, example_labels
        uncounted = np.zeros(len(texts), dtype=bool) if self.config.context_coverage else context.copy()
        if background is not None:
            uncounted |= background
        self.known = KnownWords.of(self.word, texts, uncounted, stems=self.stems,
                                   concepts=bool(self.config.concept_weight))
        weights = np.where(context, context_weight, 1.0) if context.any() else None
        if linear:
            self._fit_svm(texts, full_x, labels, weights, dense)
            if self.config.neighbour_blend and self.stems and len(self.classes) > 2:
                self.sparse = fit_sparse_linear(full_x, labels, self.classes, weights, self.config)
        elif len(self.classes) >= 2 and self.config.large_mode == "sparse":
            log.info("matcher in sparse linear mode: %d entries × %d columns is over the dense budget "
                     "(max_linear_weights=%d)", len(self.classes), x.shape[1], self.config.max_linear_weights)
            self.sparse = fit_sparse_linear(full_x, labels, self.classes, weights, self.config)
        else:
            if len(self.classes) >= 2:
                # The Arabizi skeleton view of a large catalogue is nearest centroid by design (training.py).
                log.log(logging.WARNING if self.stems else logging.INFO,
                        "matcher in nearest-centroid mode: %d entries × %d columns is over the linear budget "
                        "(max_linear_weights=%d)", len(self.classes), x.shape[1], self.config.max_linear_weights)
            self.centroids = class_centroids(x, example_labels, n_classes, self.config.centroid_max_share)
        return self

    def _drop_empty_channels(self, texts: Sequence[str]) -> None:
        """Leave out the concept and pair channels when no text has a feature for them (empty vocabulary)."""
        if self.config.concept_weight and self.stems and not any(concept_text(t) for t in texts):
            self.vectorizers, self.channel_weights = self.vectorizers[:-1], self.channel_weights[:-1]
            self.no_concepts = True
        if self.config.pair_weight and self.stems and not any(content_pairs(t) for t in texts):
            # A catalogue of keywords: no text has two content words.
            drop = next(i for i, v in enumerate(self.vectorizers) if v.analyzer is content_pairs)
            del self.vectorizers[drop], self.channel_weights[drop]

    def _fit_channels(self, texts: list[str], labels: np.ndarray, context: np.ndarray, n_classes: int,
                      dense: int) -> tuple[csr_matrix, bool]:
        """(the stacked rows, whether the linear SVM fits the budget). For the SVM, columns few texts have are
        dropped until classes × columns fits ``max_linear_weights`` (``prune_to_budget``); nearest centroid
        only when even ``min_linear_columns`` would not fit."""
        parts = [v.fit_transform(texts) for v in self.vectorizers]
        columns = sum(p.shape[1] for p in parts)
        budget = self.config.max_linear_weights // max(len(self.classes), 1) - dense
        linear = len(self.classes) >= 2 and (columns <= budget or budget >= self.config.min_linear_columns)
        if linear:
            parts = prune_to_budget(self.vectorizers, parts, budget, texts)
        if self.config.supervised_weight:
            parts = supervised_parts(self.vectorizers, texts, parts, labels[~context], ~context, n_classes,
                                     self.config.supervised_weight)
        return self._stack(parts), linear

    def _fit_svm(self, texts: list[str], x: csr_matrix, labels: np.ndarray, weights: np.ndarray | None,
                 dense: int) -> None:
        self.svm, self.weights = fit_linear_svm(self._with_dense(texts, x, dense), labels, weights, self.config)

    def _with_dense(self, texts: list[str], x: csr_matrix, dense: int) -> csr_matrix:
        """The rows with the word-vector block of ``dense`` columns appended (``x`` itself when 0)."""
        if not dense:
            return x
        # IDF of the catalogue's words weighs each word's vector; words it does not know weigh as much as its
        # rarest word (as for coverage).
        self.embed_idf = word_idf(self.word) if self.config.embedding_idf else {}
        self.embed_default_idf = max(self.embed_idf.values(), default=1.0)
        self.n_dense = dense
        return hstack([x, csr_matrix(self._embed_all(texts))]).tocsr()

    # --- features ------------------------------------------------------------------------------------

    def _vectors(self) -> WordVectors:
        return word_vectors(self.config.embedding_file, self.config.embedding_dims)

    def _embed_all(self, texts: Sequence[str]) -> np.ndarray:
        """The dense block of ``texts`` (rows × n_dense): unit mean word vectors × embedding_weight."""
        block = self._vectors().embed_all(texts, self.embed_idf, self.embed_default_idf)
        return block * np.float32(self.embedding_weight)

    def transform(self, texts: Sequence[str]) -> csr_matrix:
        """The stacked TF-IDF rows of prepared texts."""
        return self._stack([v.transform(texts) for v in self.vectorizers])

    def features(self, texts: Sequence[str]) -> csr_matrix:
        """What the SVM scores: the TF-IDF row (``transform``), then the dense word-vector block if any."""
        x = self.transform(texts)
        if self.n_dense:
            x = hstack([x, csr_matrix(self._embed_all(texts))]).tocsr()
        return x

    def __getstate__(self) -> dict:
        # The per-query lookups hold analyzer closures; they are rebuilt on first use after unpickling.
        state = {k: v for k, v in self.__dict__.items() if k not in ("_fast", "_last_query", "_norms")}
        if self.svm is not None:
            # coef_ is a transposed view of self.weights; pickled as it is, it would be a second copy.
            state["svm"] = copy.copy(self.svm)
            state["svm"].coef_ = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.svm is not None:
            self.svm.coef_ = self.weights.T

    def memory_bytes(self) -> int:
        """Bytes of the fitted arrays this view holds (weights or centroids, example rows); vocabularies and
        the word-vector table (shared by every view) are not counted."""
        arrays = [self.examples.data, self.examples.indices, self.examples.indptr]
        if self.svm is not None:
            arrays += [self.weights, self.svm.intercept_]
        if self.centroids is not None:
            arrays += [self.centroids.data, self.centroids.indices, self.centroids.indptr]
        return sum(a.nbytes for a in arrays) + (self.sparse.nbytes() if self.sparse is not None else 0)

    def _lookup(self) -> tuple:
        """Fitted analyzers, vocabularies and IDF (to build a query vector without sklearn's per-call
        validation, ~1.3 ms), and each class's example row range (for evidence). Built on first use."""
        lookup = self.__dict__.get("_fast")
        if lookup is None:
            order = np.argsort(self.labels, kind="stable")
            sorted_rows = self.examples if np.array_equal(order, np.arange(len(order))) else self.examples[order]
            bounds = np.searchsorted(self.labels[order], np.arange(int(self.labels.max(initial=0)) + 2))
            # Any vectorizer setting query_row does not reproduce falls back to self.transform.
            direct = direct_query_possible(self.vectorizers)
            analyzers, n_features = channel_analyzers(self.vectorizers, self.channel_weights)
            lookup = self._fast = (sorted_rows, bounds, direct, analyzers, n_features)
        return lookup

    def _row_norms(self) -> np.ndarray:
        """L2 norm of each example row in the order of ``_lookup``'s rows (built on first use)."""
        norms = self.__dict__.get("_norms")
        if norms is None:
            rows = self._lookup()[0]
            norms = self._norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel()).astype(np.float32)
        return norms

    def query(self, prepared: str) -> tuple[np.ndarray, np.ndarray]:
        """The text's L2-normalised TF-IDF row as (columns, values), equal to ``transform([prepared])`` up to
        float32 rounding (columns of the channels are disjoint; order is not sorted)."""
        last = self.__dict__.get("_last_query")
        if last is not None and last[0] == prepared:
            # rank and then evidence ask for the same text's row: one memo (one tuple, so a thread that
            # reads it sees a text and its own row) saves building it twice.
            return last[1]
        result = self._query(prepared)
        self._last_query = (prepared, result)
        return result

    def _query(self, prepared: str) -> tuple[np.ndarray, np.ndarray]:
        _, _, direct, analyzers, _ = self._lookup()
        if not direct:
            row = self.transform([prepared])
            return row.indices.astype(np.int64), row.data.astype(np.float32)
        return query_row(analyzers, prepared, self._additive())

    # --- scoring -------------------------------------------------------------------------------------

    def scores_one(self, prepared: str) -> np.ndarray:
        """Raw scores of one text for ``self.classes`` (the same as the batch path, without sklearn calls)."""
        columns, values = self.query(prepared)
        if self.svm is not None:
            scores = values @ self.weights[columns] + self.svm.intercept_
            if self.n_dense:
                vector = self._vectors().embed(prepared, self.embed_idf, self.embed_default_idf)
                if vector is not None:
                    scores = scores + (np.float32(self.embedding_weight) * vector) @ self.weights[-self.n_dense:]
            if scores.shape[0] == 1:  # binary liblinear: one column, the second class's margin
                scores = np.array([-scores[0], scores[0]], dtype=scores.dtype)
            scores = scores.astype(np.float64)
            if self.sparse is not None:
                row = csr_matrix((values, columns, [0, len(columns)]), shape=(1, self.sparse.weights.shape[0]))
                scores = self._blend(scores, self.sparse.scores(row)[0])
            if self.config.knn_weight:
                row = csr_matrix((values, columns, [0, len(columns)]), shape=(1, self.examples.shape[1]))
                scores = scores + self.config.knn_weight * self._knn(row)[0]
            return scores
        if self.sparse is not None:
            row = csr_matrix((values, columns, np.array([0, len(columns)])), shape=(1, self.sparse.weights.shape[0]))
            return self.sparse.scores(row)[0]
        # Sparse query row × (features × classes) centroids. Built directly, the row skips transform's
        # validation; scipy's sparse product beat a NumPy gather + bincount (0.8 vs 2.4 ms at p50 with 10,000
        # entries) and a dense block for the most common n-grams (its row gather copies 40 kB per feature).
        row = csr_matrix((values, columns, np.array([0, len(columns)])), shape=(1, self.centroids.shape[0]))
        out = (row @ self.centroids).toarray()[0]
        return out[self.classes].astype(np.float64)

    def batch_scores(self, texts: Sequence[str]) -> np.ndarray:
        """Raw scores of prepared texts for ``self.classes`` (texts × classes) through sklearn's transform."""
        x = self.transform(texts)
        if self.svm is not None:
            scores = self.svm.decision_function(self.features(texts) if self.n_dense else x)
            if scores.ndim == 1:  # binary liblinear returns one column: the second class's margin
                scores = np.column_stack([-scores, scores])
            if self.sparse is not None:
                scores = self._blend(scores, self.sparse.scores(x))
            if self.config.knn_weight:
                scores = scores + self.config.knn_weight * self._knn(x)
            return scores
        if self.sparse is not None:
            return self.sparse.scores(x)
        return (x @ self.centroids).toarray()[:, self.classes]

    def _blend(self, dense: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
        """Experiment (``neighbour_blend``): the dense SVM's scores averaged with the per-entry SVMs'."""
        blend = self.config.neighbour_blend
        return (dense + blend * neighbours) / (1.0 + blend)

    def _knn(self, x: csr_matrix) -> np.ndarray:
        """Cosine of each row of x to the nearest example of each class in self.classes."""
        sims = (x @ self.examples.T).toarray()
        starts = np.searchsorted(self.labels, self.classes)  # labels are in entry order
        return np.maximum.reduceat(sims, starts, axis=1)

    def probabilities(self, texts: Sequence[str], n_classes: int) -> np.ndarray:
        """Softmax over all classes (classes unseen by this view get probability 0)."""
        scores = self.scores_one(texts[0])[None, :] if len(texts) == 1 else self.batch_scores(texts)
        centroid = self.svm is None and self.sparse is None
        temperature = self.config.centroid_temperature if centroid else self.config.svm_temperature
        full = np.full((len(texts), n_classes), -np.inf)
        full[:, self.classes] = np.asarray(scores, dtype=np.float64)
        return softmax(full, temperature)

    def similarity(self, prepared: str, index: int) -> float:
        """Cosine of the text's TF-IDF row to the nearest example of entry ``index`` (0 when the entry has no
        example here or the text no known feature)."""
        examples, bounds, _, _, n_features = self._lookup()
        first, last = (int(bounds[index]), int(bounds[index + 1])) if index + 1 < len(bounds) else (0, 0)
        if last <= first:
            return 0.0
        columns, values = self.query(prepared)
        if not len(columns):
            return 0.0
        # A dense query (4 bytes per feature, ~0.6 MB) makes the dot products one gather.
        query = np.zeros(n_features, dtype=np.float32)
        query[columns] = values
        # Dot product of the query with each example row of the entry (CSR slices).
        start, stop = examples.indptr[first], examples.indptr[last]
        products = examples.data[start:stop] * query[examples.indices[start:stop]]
        row_starts = examples.indptr[first:last] - start
        nonempty = examples.indptr[first + 1:last + 1] > examples.indptr[first:last]
        if not nonempty.any():
            return 0.0
        dots = np.add.reduceat(products, row_starts[nonempty])
        if self._additive():
            # Rows with concepts are longer than 1 (the concept channel is added on top): divide by both
            # norms so the similarity stays a cosine in [0, 1].
            norms = self._row_norms()[first:last][nonempty]
            dots = dots / (norms * np.sqrt(np.dot(values, values)))
        return float(dots.max())
