"""The matcher's knobs (``MatcherConfig``), its routing thresholds and its random seed."""
from __future__ import annotations

from dataclasses import dataclass

SEED = 0
THRESHOLDS: tuple[float, float] = (0.6, 0.3)
"""(high, low): answer from the FAQ at ≥ high, ask a clarifying question between, LLM below."""


@dataclass(frozen=True)
class MatcherConfig:
    """Knobs of the matcher; the defaults are the configuration chosen in docs/matching.md."""

    char_ngrams: tuple[int, int] = (2, 5)
    word_ngrams: tuple[int, int] = (1, 2)
    svm_c: float = 1.0
    # Softmax temperatures, fitted by 5-fold cross-validation on the training examples (fit_temperature).
    svm_temperature: float = 0.2
    centroid_temperature: float = 0.03
    # Dense OvR weights cost 4 bytes × classes × features (40 MB at the default). Above this budget the
    # linear SVM drops the columns fewest texts have (pruning.py) as long as at least min_linear_columns remain;
    # beyond that the matcher uses nearest centroid (fast to fit and query, but much less accurate: see the docs).
    max_linear_weights: int = 10_000_000
    min_linear_columns: int = 20_000
    # Nearest centroid ignores features that more than this share of the classes have (without_common_features).
    centroid_max_share: float = 0.1
    # Over the dense budget: "sparse" (one SVM per entry against its ``neighbour_entries`` nearest entries,
    # weights stored sparse: neighbours.py) or "centroid" (nearest centroid, the only large mode before session
    # 8; still used by the Arabizi skeleton view of a large catalogue). liblinear's own default tolerance (0.1)
    # and an iteration cap (15) keep 10,000 small fits fast; from 1,000 entries ``fit_processes`` forked processes
    # share them (the weights do not depend on it).
    # At most ``neighbour_max_share`` of the entries (and at least 200, MIN_PER_FEATURE) keep a weight for one feature.
    large_mode: str = "sparse"
    neighbour_entries: int = 20
    neighbour_max_iter: int = 15
    neighbour_tol: float = 0.1
    fit_processes: int = 2
    neighbour_max_share: float = 0.02
    arabizi: bool = True
    # Experiments (docs/matching.md); the defaults leave them off.
    stem_ngrams: tuple[int, int] | None = None  # extra word channel over light stems (light_stem)
    char_ngrams_nowb: tuple[int, int] | None = None  # extra char n-grams across word boundaries
    class_weight: str | None = None  # LinearSVC class_weight ("balanced")
    knn_weight: float = 0.0  # add this × max cosine to an entry's examples to the SVM scores
    # In linear mode, also fit the per-entry SVMs of large catalogues (neighbours.py) and average their scores
    # with the dense SVM's, this one's weight against 1 (main view only). 0 = off.
    neighbour_blend: float = 0.0
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
