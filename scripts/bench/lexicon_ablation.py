"""Dev-blind lexicon ablation: the lexicon without every form that occurs in a dev query but not in the FAQ
file, measured on rows the lexicon was never built from (scripts/bench/data/events_fresh.csv, paraphrases
written for this check). If the full lexicon beats the ablated one there, the forms the dev rows happen to
use generalise to other phrasings; if not, they were fitted to the dev rows."""
from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Callable, Iterator

from bot.nlu import concepts, knowledge, lexicon
from bot.nlu.features import prepare
from bot.nlu.matcher import Matcher


def dev_only_forms(dev_texts: list[str], faq_texts: list[str]) -> dict[str, list[str]]:
    """Per concept, the forms (as the lexicon lists them) that a dev query has but no FAQ text has."""
    dev = " " + " ".join(prepare(t) for t in dev_texts) + " "
    faq = " " + " ".join(prepare(t) for t in faq_texts) + " "
    out: dict[str, list[str]] = {}
    for concept, forms in lexicon.CONCEPTS.items():
        for form in forms:
            needle = re.escape(" " + prepare(form) + " ")
            if prepare(form) and re.search(needle, dev) and not re.search(needle, faq):
                out.setdefault(concept, []).append(form)
    return out


@contextmanager
def lexicon_without(forms: dict[str, list[str]]) -> Iterator[None]:
    """The lexicon without ``forms`` while the block runs; fits bypass the on-disk cache (its key does not
    see this change)."""
    saved = dict(lexicon.CONCEPTS)
    saved_fit = knowledge.trained_matcher
    for concept, dropped in forms.items():
        lexicon.CONCEPTS[concept] = tuple(f for f in saved[concept] if f not in dropped)
    _clear()
    knowledge.trained_matcher = lambda entries: Matcher().fit(entries)
    try:
        yield
    finally:
        lexicon.CONCEPTS.clear()
        lexicon.CONCEPTS.update(saved)
        knowledge.trained_matcher = saved_fit
        _clear()


def _clear() -> None:
    concepts._tables.cache_clear()
    concepts.word_concept.cache_clear()


def ablation(report_of: Callable[[], dict], dev_texts: list[str], faq_texts: list[str]) -> dict:
    """``report_of()`` with the full lexicon and without the dev-only forms, and the forms dropped."""
    forms = dev_only_forms(dev_texts, faq_texts)
    full = report_of()
    with lexicon_without(forms):
        blind = report_of()
    return {"dropped_forms": sum(map(len, forms.values())), "forms": forms, "full": full, "dev_blind": blind}
