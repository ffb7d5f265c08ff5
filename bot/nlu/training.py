"""From entries to fitted views: the prepared example and context texts of each entry, the main view over
them, and the consonant-skeleton view of the Arabic examples for Arabizi queries."""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Sequence

import numpy as np

from .arabizi import arabic_skeleton
from .config import MatcherConfig
from .entries import Entry
from .features import prepare
from .views import View

_CLAUSE = re.compile(r"[.;!?؛،,:\n()]+")


def context_parts(texts: Sequence[str], split: bool = True) -> list[str]:
    """Context texts (an entry's answers) as weak examples: split into clauses, so each is about as long
    as a question."""
    if not split:
        return [t for t in texts if t and t.strip()]
    return [p.strip() for t in texts for p in _CLAUSE.split(t or "") if len(p.strip().split()) >= 2]


def unique_keys(entries: Sequence[Entry]) -> list[str]:
    """The entries' keys, in order; raises ValueError when two entries share a key."""
    keys = [e.key for e in entries]
    if len(set(keys)) != len(keys):
        raise ValueError("entry keys must be unique")
    return keys


def _prepared_rows(texts_of_entry: Sequence[Sequence[str]]) -> tuple[list[str], list[int]]:
    """(prepared texts, entry index of each), in entry order; texts that prepare to nothing are skipped."""
    texts, labels = [], []
    for i, entry_texts in enumerate(texts_of_entry):
        for text in entry_texts:
            prepared = prepare(text)
            if prepared:
                texts.append(prepared)
                labels.append(i)
    return texts, labels


def _skeleton_view(texts: Sequence[str], labels: Sequence[int], n_classes: int, config: MatcherConfig,
                   background: Sequence[bool]) -> View | None:
    """Consonant skeletons of the Arabic-script examples, for Latin-script Arabic queries (None: no Arabic)."""
    sk_texts, sk_labels, sk_background = [], [], []
    for entry_index, example, foreign in zip(labels, texts, background, strict=True):
        skeleton = arabic_skeleton(example)
        if skeleton:
            sk_texts.append(skeleton)
            sk_labels.append(entry_index)
            sk_background.append(foreign)
    if not sk_texts:
        return None
    # Over the dense budget the skeleton view, which only Arabizi queries reach, stays nearest centroid: its
    # per-entry SVMs would add half again to the fit of a 10,000-entry catalogue (docs/matching.md).
    return View(replace(config, large_mode="centroid")).fit(sk_texts, np.array(sk_labels), n_classes,
                                                            background=np.array(sk_background))


def fit_views(entries: Sequence[Entry], config: MatcherConfig) -> tuple[View | None, View | None]:
    """(main view, skeleton view) trained on every example of every entry, and on the entries' context
    texts as weak examples; (None, None) when no entry has an example. Raises ValueError on duplicate keys."""
    unique_keys(entries)
    texts, labels = _prepared_rows([entry.examples for entry in entries])
    if not texts:
        return None, None
    context_texts, context_labels = [], []
    if config.context_weight:
        context_texts, context_labels = _prepared_rows([context_parts(e.context, config.context_split)
                                                        for e in entries])
    is_context = np.array([False] * len(texts) + [True] * len(context_texts))
    background = [entries[i].kind == "background" for i in labels + context_labels]
    main = View(config, stems=True).fit(texts + context_texts, np.array(labels + context_labels), len(entries),
                                        is_context, config.context_weight, np.array(background))
    skeleton = (_skeleton_view(texts, labels, len(entries), config, background[:len(texts)])
                if config.arabizi else None)
    return main, skeleton
