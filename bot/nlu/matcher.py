"""Trained, deterministic matcher from a user message to an intent or FAQ entry.

Design (measured in docs/matching.md):

* Every example and query goes through ``normalize`` + ``canonical_dialect``.
* Features: TF-IDF of char_wb 2–5-grams (robust to typos, clitics and inflection in both scripts) joined
  with TF-IDF of word 1–2-grams (word order and exact words) and of unordered content-word pairs
  (``content_pairs``: two words that matter together wherever they stand), rows L2-normalised.
* Scorer: one-vs-rest linear SVM. Catalogues too big for dense per-class weights (classes × features over
  ``max_linear_weights``) fall back to nearest-centroid cosine, which scales to 10,000+ entries.
* Arabizi queries ("kam si3r el tadhkara") are also scored by a second SVM trained on the consonant
  skeletons of the Arabic examples (see ``arabic_skeleton``); the more confident of the two views is used.
* Confidence: softmax of the scores divided by a temperature. The default temperatures were fitted by
  cross-validation (``fit_temperature``); the top candidate's probability is the confidence in [0, 1].

* Queries: a single text's TF-IDF row is built directly from the fitted vocabularies (``_View.query``) and
  scored without sklearn's per-call validation; the top k come from ``argpartition``.
* Evidence: cosine to the entry's nearest example, and the IDF-weighted share of the text's words the
  catalogue knows as spelled or by a light stem (``light_stems``).

Everything is deterministic: liblinear is seeded, ties are broken by entry order.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize as l2_normalize
from sklearn.svm import LinearSVC

from .embeddings import WordVectors, word_vectors
from .entries import Entry
from .normalize import (ARABIZI_WORDS, arabic_skeleton, arabizi_skeleton, canonical_dialect, concept_text,
                        content_pairs, is_arabizi, light_stem, light_stems, normalize, word_concept)

SEED = 0
THRESHOLDS: tuple[float, float] = (0.6, 0.3)
"""(high, low): answer from the FAQ at ≥ high, ask a clarifying question between, LLM below."""


def prepare(text: str) -> str:
    """The matcher's view of a text: normalised, with dialect function words canonicalised."""
    return canonical_dialect(normalize(text))


@dataclass(frozen=True)
class MatcherConfig:
    """Knobs of the matcher; the defaults are the configuration chosen in docs/matching.md."""

    char_ngrams: tuple[int, int] = (2, 5)
    word_ngrams: tuple[int, int] = (1, 2)
    svm_c: float = 1.0
    # Softmax temperatures, fitted by 5-fold cross-validation on the training examples (fit_temperature).
    svm_temperature: float = 0.2
    centroid_temperature: float = 0.03
    # Dense OvR weights cost 4 bytes × classes × features (160 MB at the default); above this budget the
    # matcher uses nearest centroid instead (fast to fit and query, but much less accurate: see the docs).
    max_linear_weights: int = 40_000_000
    # Nearest centroid ignores features that more than this share of the classes have (without_common_features).
    centroid_max_share: float = 0.1
    arabizi: bool = True
    # Experiments (docs/matching.md); the defaults leave them off.
    stem_ngrams: tuple[int, int] | None = None  # extra word channel over light stems (light_stem)
    char_ngrams_nowb: tuple[int, int] | None = None  # extra char n-grams across word boundaries
    class_weight: str | None = None  # LinearSVC class_weight ("balanced")
    knn_weight: float = 0.0  # add this × max cosine to an entry's examples to the SVM scores
    word_weight: float = 1.0  # weight of the word channel next to char_wb (1 = equal)
    svm_loss: str = "squared_hinge"  # LinearSVC loss ("hinge" was worse)
    # Lexicon concepts (bot/nlu/lexicon.py): a channel of the concepts a text mentions, with this weight,
    # added on top of the unit-norm char+word row (additive) rather than renormalised with it. 0 = off.
    concept_weight: float = 1.0
    concept_additive: bool = True
    # Context texts (an FAQ entry's answers) are weak examples: SVM sample weight, split into clauses, and
    # whether their words count as known for coverage. 0 = unused.
    context_weight: float = 0.3
    context_split: bool = True
    context_coverage: bool = False
    # Supervised term weighting: each feature's IDF × (1 + this × (1 − H(class | feature) / log K)). 0 = off.
    supervised_weight: float = 0.0
    # Channel of unordered content-word pairs (``content_pairs``) in the main view, with this weight next to
    # char_wb and word (before the row is L2-normalised). 0 = off. Chosen by 5-fold CV on Banking77's English
    # training phrasings (docs/matching.md).
    pair_weight: float = 1.0
    # Static English word vectors (bot/nlu/embeddings.py): the text's IDF-weighted mean word vector, unit norm,
    # times this weight, as a dense block of the linear SVM's features (main view, linear mode only; texts
    # with no known English word get zeros). 0 = off. Weight 1 chosen by grouped 5-fold CV on Banking77's
    # English training phrasings (docs/matching.md, round 5). ``embedding_file`` None = the shipped
    # artefact; ``embedding_dims`` keeps the first PCA components (None = all).
    embedding_weight: float = 1.0
    embedding_idf: bool = True  # weigh each word's vector by its IDF (False: plain mean)
    embedding_file: str | None = None
    embedding_dims: int | None = None


def stem_text(text: str) -> str:
    """Every word of a prepared text replaced by its light stem."""
    return " ".join(light_stem(w) for w in text.split())


def _tfidf(analyzer: str, ngrams: tuple[int, int], preprocessor=None) -> TfidfVectorizer:
    # Texts are prepared already; token_pattern \S+ keeps one-letter Arabic words and digits.
    extra = {"token_pattern": r"\S+"} if analyzer == "word" else {}
    if preprocessor is not None:
        extra["preprocessor"] = preprocessor
    return TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True, lowercase=False,
                           dtype=np.float32, **extra)


class _View:
    """TF-IDF features (char_wb + word) and a scorer over them for one representation of the text."""

    def __init__(self, config: MatcherConfig, stems: bool = False) -> None:
        self.config = config
        self.stems = stems  # count a word as known by its light stem too (main view; not skeletons)
        self.char = _tfidf("char_wb", config.char_ngrams)
        self.word = _tfidf("word", config.word_ngrams)
        self.vectorizers = [self.char, self.word]
        self.channel_weights = [1.0, config.word_weight]
        if config.char_ngrams_nowb:
            self.vectorizers.append(_tfidf("char", config.char_ngrams_nowb))
            self.channel_weights.append(1.0)
        if config.stem_ngrams and stems:
            self.vectorizers.append(_tfidf("word", config.stem_ngrams, stem_text))
            self.channel_weights.append(1.0)
        if config.pair_weight and stems:
            self.vectorizers.append(TfidfVectorizer(analyzer=content_pairs, sublinear_tf=True, lowercase=False,
                                                    dtype=np.float32))
            self.channel_weights.append(config.pair_weight)
        if config.concept_weight and stems:
            self.vectorizers.append(_tfidf("word", (1, 1), concept_text))
            self.channel_weights.append(config.concept_weight)
        self.embedding_weight = config.embedding_weight if stems else 0.0
        self.n_dense = 0  # columns of the dense word-vector block after the sparse features (0 = none)
        self.svm: LinearSVC | None = None
        self.centroids: csr_matrix | None = None
        self.classes: np.ndarray = np.zeros(0, dtype=int)

    def _additive(self) -> bool:
        return bool(self.config.concept_weight and self.stems and self.config.concept_additive
                     and not self.__dict__.get("no_concepts"))

    def _stack(self, parts: list) -> csr_matrix:
        parts = [p * w if w != 1.0 else p for p, w in zip(parts, self.channel_weights)]
        if self._additive():
            return hstack([l2_normalize(hstack(parts[:-1]).tocsr()), parts[-1]]).tocsr()
        return l2_normalize(hstack(parts).tocsr())

    def fit(self, texts: list[str], labels: np.ndarray, n_classes: int,
            context: np.ndarray | None = None, context_weight: float = 0.0) -> "_View":
        if self.config.concept_weight and self.stems and not any(concept_text(t) for t in texts):
            # No text mentions a lexicon concept: the channel would have an empty vocabulary.
            self.vectorizers, self.channel_weights = self.vectorizers[:-1], self.channel_weights[:-1]
            self.no_concepts = True
        if self.config.pair_weight and self.stems and not any(content_pairs(t) for t in texts):
            # No text has two content words (a catalogue of keywords): the pair channel would be empty.
            drop = next(i for i, v in enumerate(self.vectorizers) if v.analyzer is content_pairs)
            del self.vectorizers[drop], self.channel_weights[drop]
        context = np.zeros(len(texts), dtype=bool) if context is None else context
        parts = [v.fit_transform(texts) for v in self.vectorizers]
        if self.config.supervised_weight:
            parts = self._supervised(texts, parts, labels[~context], ~context, n_classes)
        x = self._stack(parts)
        full_x, full_labels = x, labels
        # Kept for absolute evidence (see Matcher.evidence): the softmax only says which entry is likeliest,
        # not whether the text resembles any example at all. Context texts are not examples.
        if context.any():
            x, labels = x[~context], labels[~context]
        self.examples, self.labels = x, labels
        # IDF of each known word: coverage counts words by how telling they are ("please" next to an unknown
        # word must not make a text look familiar). Unknown words weigh as much as the rarest known word.
        self.word_idf = {t: float(self.word.idf_[i]) for t, i in self.word.vocabulary_.items() if " " not in t}
        if context.any() and not self.config.context_coverage:
            example_words = {w for i in np.flatnonzero(~context) for w in texts[i].split()}
            self.word_idf = {t: idf for t, idf in self.word_idf.items() if t in example_words}
        # Concepts of the known words (bot/nlu/lexicon.py): a synonym, dialect word or translation of a known
        # word is known too ("قهوه" when the catalogue says "coffee").
        self.concept_idf: dict[str, float] = {}
        if self.stems and self.config.concept_weight:
            for word, idf in self.word_idf.items():
                concept = word_concept(word)
                if concept is not None and idf > self.concept_idf.get(concept, 0.0):
                    self.concept_idf[concept] = idf
        self.unknown_idf = max(self.word_idf.values(), default=1.0)
        # Light stems of the known words ("تسجيلي" → تسجيل): a word spelled differently but sharing a stem is
        # known too, and weighs as much as the rarest word with that stem.
        self.stem_idf: dict[str, float] = {}
        if self.stems:
            for word, idf in self.word_idf.items():
                for stem in light_stems(word):
                    if idf > self.stem_idf.get(stem, 0.0):
                        self.stem_idf[stem] = idf
        self.classes = np.unique(labels)
        dense = self._vectors().dims if self.embedding_weight else 0
        if len(self.classes) >= 2 and len(self.classes) * (x.shape[1] + dense) <= self.config.max_linear_weights:
            weights = None
            if context.any():
                weights = np.where(context, context_weight, 1.0)
            if dense:
                # IDF of the catalogue's words weighs each word's vector; words it does not know weigh as much
                # as its rarest word (as for coverage).
                self.embed_idf = {t: float(self.word.idf_[i]) for t, i in self.word.vocabulary_.items()
                                  if " " not in t} if self.config.embedding_idf else {}
                self.embed_default_idf = max(self.embed_idf.values(), default=1.0)
                self.n_dense = dense
                full_x = hstack([full_x, csr_matrix(self._embed_all(texts))]).tocsr()
            self.svm = LinearSVC(C=self.config.svm_c, class_weight=self.config.class_weight,
                                 loss=self.config.svm_loss, random_state=SEED)
            self.svm.fit(full_x, full_labels, sample_weight=weights)
            # float32 halves the dense weight matrix (4 bytes × classes × features) at no accuracy cost. It is
            # stored features × classes (C order) so a query's few features are a gather of whole rows;
            # coef_ stays a (transposed) view of it for sklearn's decision_function.
            self.weights = np.ascontiguousarray(self.svm.coef_.T, dtype=np.float32)
            self.svm.coef_ = self.weights.T
            self.svm.intercept_ = self.svm.intercept_.astype(np.float32)
        else:
            # Mean of the class's example vectors: one sparse row per class keeps memory and latency
            # proportional to the catalogue, not to classes × vocabulary.
            onehot = csr_matrix((np.ones(len(labels), dtype=np.float32), (labels, np.arange(len(labels)))),
                                shape=(n_classes, len(labels)))
            centroids = l2_normalize(onehot @ x).T.tocsr()  # features × classes
            self.centroids = without_common_features(centroids, self.config.centroid_max_share)
        return self

    def _vectors(self) -> WordVectors:
        return word_vectors(self.config.embedding_file, self.config.embedding_dims)

    def _embed_all(self, texts: Sequence[str]) -> np.ndarray:
        """The dense block of ``texts`` (rows × n_dense): unit mean word vectors × embedding_weight."""
        block = self._vectors().embed_all(texts, self.embed_idf, self.embed_default_idf)
        return block * np.float32(self.embedding_weight)

    def features(self, texts: Sequence[str]) -> csr_matrix:
        """What the SVM scores: the TF-IDF row (``transform``), then the dense word-vector block if any."""
        x = self.transform(texts)
        if self.n_dense:
            x = hstack([x, csr_matrix(self._embed_all(texts))]).tocsr()
        return x

    def __getstate__(self) -> dict:
        # The per-query lookups hold analyzer closures; they are rebuilt on first use after unpickling.
        return {k: v for k, v in self.__dict__.items() if k not in ("_fast", "_last_query")}

    def _lookup(self) -> tuple:
        """Fitted analyzers, vocabularies and IDF (to build a query vector without sklearn's per-call
        validation, ~1.3 ms), and each class's example row range (for evidence). Built on first use."""
        lookup = self.__dict__.get("_fast")
        if lookup is None:
            order = np.argsort(self.labels, kind="stable")
            sorted_rows = self.examples if np.array_equal(order, np.arange(len(order))) else self.examples[order]
            bounds = np.searchsorted(self.labels[order], np.arange(int(self.labels.max(initial=0)) + 2))
            vectorizers = self.vectorizers
            # Same arithmetic as TfidfVectorizer.transform (counts → 1 + log → × idf → l2 per vectorizer, then
            # l2 of the stacked row); any other vectorizer setting falls back to self.transform.
            direct = all(v.sublinear_tf and v.use_idf and v.norm == "l2" and not v.binary for v in vectorizers)
            offsets = np.cumsum([0] + [len(v.vocabulary_) for v in vectorizers])
            analyzers = tuple((v.build_analyzer(), v.vocabulary_, v.idf_.astype(np.float32), int(offset),
                               np.float32(w)) for v, offset, w in zip(vectorizers, offsets, self.channel_weights))
            lookup = self._fast = (sorted_rows, bounds, direct, analyzers, int(offsets[-1]))
        return lookup

    def _supervised(self, texts, parts, labels, rows, n_classes):
        """Scale each vectorizer's IDF by how concentrated a feature is in few classes (smoothed entropy)."""
        beta, k = 1.0, max(n_classes, 2)
        onehot = csr_matrix((np.ones(len(labels)), (labels, np.arange(len(labels)))), shape=(n_classes, len(labels)))
        out = []
        for v, part in zip(self.vectorizers, parts):
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
            v.idf_ = (v.idf_ * (1.0 + self.config.supervised_weight * w)).astype(v.idf_.dtype)
            out.append(v.transform(texts))
        return out

    def _row_norms(self) -> np.ndarray:
        """L2 norm of each example row in the order of ``_lookup``'s rows (built on first use)."""
        norms = self.__dict__.get("_norms")
        if norms is None:
            rows = self._lookup()[0]
            norms = self._norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel()).astype(np.float32)
        return norms

    def query(self, prepared: str) -> tuple[np.ndarray, np.ndarray]:
        """The text's L2-normalised TF-IDF row as (columns, values), equal to ``transform([prepared])`` up to
        float32 rounding (columns of the two vectorizers are disjoint; order is not sorted)."""
        last = self.__dict__.get("_last_query")
        if last is not None and last[0] == prepared:
            # rank and then evidence ask for the same text's row: one memo (one tuple, so a thread that
            # reads it sees a text and its own row) saves building it twice.
            return last[1]
        result = self._query(prepared)
        self._last_query = (prepared, result)
        return result

    def _query(self, prepared: str) -> tuple[np.ndarray, np.ndarray]:
        _, _, direct, analyzers, n_features = self._lookup()
        if not direct:
            row = self.transform([prepared])
            return row.indices.astype(np.int64), row.data.astype(np.float32)
        columns_parts, value_parts, total = [], [], np.float32(0)
        additive = self._additive()
        extra = None
        for n, (analyze, vocabulary, idf, offset, weight) in enumerate(analyzers):
            counts: dict[int, int] = {}
            for feature in analyze(prepared):
                column = vocabulary.get(feature)
                if column is not None:
                    counts[column] = counts.get(column, 0) + 1
            if counts:
                columns = np.fromiter(counts, dtype=np.int64, count=len(counts))
                values = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
                values = (np.log(values) + np.float32(1)) * idf[columns]
                values *= weight / np.sqrt(np.dot(values, values))
                if additive and n == len(analyzers) - 1:
                    extra = (columns + offset, values)
                    continue
                columns_parts.append(columns + offset)
                value_parts.append(values)
                total += np.dot(values, values)
        if not columns_parts and extra is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if total:
            value_parts = [v / np.sqrt(total) for v in value_parts]
        if extra is not None:
            columns_parts.append(extra[0])
            value_parts.append(extra[1])
        return np.concatenate(columns_parts), np.concatenate(value_parts)

    def transform(self, texts: Sequence[str]) -> csr_matrix:
        return self._stack([v.transform(texts) for v in self.vectorizers])

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
            if self.config.knn_weight:
                row = csr_matrix((values, columns, [0, len(columns)]), shape=(1, self.examples.shape[1]))
                scores = scores + self.config.knn_weight * self._knn(row)[0]
            return scores
        # Sparse query row × (features × classes) centroids. Built directly, the row skips transform's
        # validation; scipy's sparse product beat a NumPy gather + bincount (0.8 vs 2.4 ms at p50 with 10,000
        # entries) and a dense block for the most common n-grams (its row gather copies 40 kB per feature).
        row = csr_matrix((values, columns, np.array([0, len(columns)])), shape=(1, self.centroids.shape[0]))
        out = (row @ self.centroids).toarray()[0]
        return out[self.classes].astype(np.float64)

    def _knn(self, x: csr_matrix) -> np.ndarray:
        """Cosine of each row of x to the nearest example of each class in self.classes."""
        sims = (x @ self.examples.T).toarray()
        starts = np.searchsorted(self.labels, self.classes)  # labels are in entry order
        return np.maximum.reduceat(sims, starts, axis=1)

    def probabilities(self, texts: Sequence[str], n_classes: int) -> np.ndarray:
        """Softmax over all classes (classes unseen by this view get probability 0)."""
        if len(texts) == 1:
            scores = self.scores_one(texts[0])[None, :]
        else:
            x = self.transform(texts)
            if self.svm is not None:
                scores = self.svm.decision_function(self.features(texts) if self.n_dense else x)
                if scores.ndim == 1:  # binary liblinear returns one column: the second class's margin
                    scores = np.column_stack([-scores, scores])
                if self.config.knn_weight:
                    scores = scores + self.config.knn_weight * self._knn(x)
            else:
                scores = (x @ self.centroids).toarray()[:, self.classes]
        temperature = self.config.svm_temperature if self.svm is not None else self.config.centroid_temperature
        full = np.full((len(texts), n_classes), -np.inf)
        full[:, self.classes] = np.asarray(scores, dtype=np.float64)
        return softmax(full, temperature)


_CLAUSE = re.compile(r"[.;!?؛،,:\n()]+")


def context_parts(texts: Sequence[str], split: bool = True) -> list[str]:
    """Context texts (an entry's answers) as weak examples: split into clauses, so each is about as long
    as a question."""
    if not split:
        return [t for t in texts if t and t.strip()]
    return [p.strip() for t in texts for p in _CLAUSE.split(t or "") if len(p.strip().split()) >= 2]


MIN_COMMON_CLASSES = 10


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


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise softmax of ``scores / temperature`` (−inf entries get probability 0)."""
    z = scores / temperature
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


class Matcher:
    """Ranks entries for a text. ``Matcher().fit(entries).rank(text, k)`` → [(key, confidence), …]."""

    def __init__(self, config: MatcherConfig | None = None) -> None:
        self.config = config or MatcherConfig()
        self.keys: list[str] = []
        self.kinds: list[str] = []
        self._main: _View | None = None
        self._skeleton: _View | None = None

    @property
    def linear(self) -> bool:
        """True when the linear SVM is used (False: nearest-centroid mode for very large catalogues)."""
        return self._main is not None and self._main.svm is not None

    def fit(self, entries: Sequence[Entry]) -> "Matcher":
        """Train on every example (English and Arabic) of every entry; returns self.

        Keys must be unique; entries without examples are kept but can never be returned.
        """
        keys = [e.key for e in entries]
        if len(set(keys)) != len(keys):
            raise ValueError("entry keys must be unique")
        self.keys, self.kinds = keys, [e.kind for e in entries]
        texts, labels, is_context = [], [], []
        for i, entry in enumerate(entries):
            for example in entry.examples:
                prepared = prepare(example)
                if prepared:
                    texts.append(prepared)
                    labels.append(i)
                    is_context.append(False)
        self._main = self._skeleton = None
        if not texts:
            return self
        n_examples = len(texts)
        if self.config.context_weight:
            for i, entry in enumerate(entries):
                for part in context_parts(entry.context, self.config.context_split):
                    prepared = prepare(part)
                    if prepared:
                        texts.append(prepared)
                        labels.append(i)
                        is_context.append(True)
        self._main = _View(self.config, stems=True).fit(texts, np.array(labels), len(keys),
                                                         np.array(is_context), self.config.context_weight)
        texts, labels = texts[:n_examples], labels[:n_examples]
        if self.config.arabizi:
            # Consonant skeletons of the Arabic-script examples, for Latin-script Arabic queries.
            sk_texts, sk_labels = [], []
            for entry_index, example in zip(labels, texts):
                skeleton = arabic_skeleton(example)
                if skeleton:
                    sk_texts.append(skeleton)
                    sk_labels.append(entry_index)
            if sk_texts:
                self._skeleton = _View(self.config).fit(sk_texts, np.array(sk_labels), len(keys))
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
        if self._main is None:
            return 0.0, 0.0
        # Called once per routed message, so it must stay well under a millisecond at 10,000 entries
        # (scripts/bench_matching.py): the key → index map and each view's example row ranges, analyzers,
        # vocabularies and IDF are built on first use (a list search, a boolean mask over every example and
        # view.transform's input validation took ~1.6 ms).
        index = self._key_index().get(key)
        if index is None:
            return 0.0, 0.0
        views = [(self._main, prepare(text))]
        arabizi = is_arabizi(text)
        if self._skeleton is not None and arabizi:
            views.append((self._skeleton, arabizi_skeleton(text)))
        best = (0.0, 0.0)
        for view, prepared in views:
            words = prepared.split()
            if not words:
                continue
            if arabizi and view is self._main:
                # Arabizi function words (wain, el, fi, mumkin, ab8a) are how the text is written, not what it
                # is about, and no English example has them: they would count as unknown words of the
                # highest weight. Coverage looks at the other words.
                words = [w for w in words if w not in ARABIZI_WORDS] or words
            examples, bounds, _, _, n_features = view._lookup()
            first, last = (int(bounds[index]), int(bounds[index + 1])) if index + 1 < len(bounds) else (0, 0)
            similarity = 0.0
            if last > first:
                columns, values = view.query(prepared)
                if len(columns):
                    # A dense query (4 bytes per feature, ~0.6 MB) makes the dot products one gather.
                    query = np.zeros(n_features, dtype=np.float32)
                    query[columns] = values
                    # Dot product of the query with each example row of the entry (CSR slices).
                    start, stop = examples.indptr[first], examples.indptr[last]
                    products = examples.data[start:stop] * query[examples.indices[start:stop]]
                    row_starts = examples.indptr[first:last] - start
                    nonempty = examples.indptr[first + 1:last + 1] > examples.indptr[first:last]
                    if nonempty.any():
                        dots = np.add.reduceat(products, row_starts[nonempty])
                        if view._additive():
                            # Rows with concepts are longer than 1 (the concept channel is added on top):
                            # divide by both norms so the similarity stays a cosine in [0, 1].
                            norms = view._row_norms()[first:last][nonempty]
                            dots = dots / (norms * np.sqrt(np.dot(values, values)))
                        similarity = float(dots.max())
            weights, known = [], 0.0
            for w in words:
                weight = view.word_idf.get(w)
                if weight is None and view.stems:
                    weight = next((view.stem_idf[s] for s in light_stems(w) if s in view.stem_idf), None)
                if weight is None and view.concept_idf:
                    weight = view.concept_idf.get(word_concept(w) or "")
                if weight is None:
                    weights.append(view.unknown_idf)
                else:
                    weights.append(weight)
                    known += weight
            coverage = known / sum(weights)
            best = max(best, (similarity, coverage))
        return best

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
        train = [Entry(e.key, e.kind, tuple(x for x, f in zip(e.examples, fold_of[i]) if f != fold), e.context)
                 for i, e in enumerate(entries)]
        test = [(i, x) for i, e in enumerate(entries) for x, f in zip(e.examples, fold_of[i]) if f == fold]
        view = Matcher(config).fit(train)._main
        if not test or view is None:
            continue
        prepared = [prepare(t) for _, t in test]
        x = view.features(prepared) if view.svm is not None else view.transform(prepared)
        raw = view.svm.decision_function(x) if view.svm is not None else (x @ view.centroids).toarray()
        if raw.ndim == 1:
            raw = np.column_stack([-raw, raw])
        full = np.full((len(test), len(entries)), -np.inf)
        full[:, view.classes] = raw if view.svm is not None else raw[:, view.classes]
        scores_all.append(full)
        truth_all.extend(i for i, _ in test)
    return np.vstack(scores_all), np.array(truth_all)


def grouped_folds(entries: Sequence[Entry], folds: int = 5, min_cosine: float = 0.6) -> list[list[int]]:
    """Folds that keep near-duplicate phrasings of an entry together: examples whose word TF-IDF cosine is
    at least ``min_cosine`` are joined (transitively) into one group, and each group goes whole to the fold
    that holds the fewest of the entry's examples so far (ties: the lowest fold). Training files with
    augmented near-copies ("didn't work" / "didn't piece of work") otherwise let plain CV test a phrasing
    whose copy it trained on. Deterministic."""
    prepared = [[prepare(x) for x in e.examples] for e in entries]
    vectorizer = _tfidf("word", (1, 1)).fit([t for texts in prepared for t in texts if t] or ["x"])
    out = []
    for texts in prepared:
        n = len(texts)
        parent = list(range(n))

        def root(a: int) -> int:
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a
        if n:
            rows = vectorizer.transform(texts)
            close = (rows @ rows.T).tocoo()
            for a, b, value in zip(close.row, close.col, close.data):
                if a < b and value >= min_cosine:
                    parent[root(b)] = root(a)
        groups: dict[int, list[int]] = {}
        for j in range(n):
            groups.setdefault(root(j), []).append(j)
        sizes, fold_of = [0] * folds, [0] * n
        for members in sorted(groups.values(), key=lambda m: (-len(m), m[0])):
            fold = int(np.argmin(sizes))
            sizes[fold] += len(members)
            for j in members:
                fold_of[j] = fold
        out.append(fold_of)
    return out


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
