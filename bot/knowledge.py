"""What the bot knows: intents (YAML) and FAQ entries (database) behind one trained matcher, and the routing
decision at the configured thresholds.

Each process keeps one trained model and checks at most every few seconds whether the FAQ changed
(an import in another process bumps its row count or newest `updated_at`), retraining only then.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import sklearn
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.intents import Intent, load_intents
from bot.nlu.entries import Entry
from bot.nlu.matcher import Matcher
from bot.nlu.normalize import normalize
from bot.settings import INSTANCE_DIR
from models import FAQ

log = logging.getLogger(__name__)
CHECK_SECONDS = 5.0
MATCHER_CACHE = INSTANCE_DIR / "matcher-cache"
# The word-vector artefact is hashed with the code: a rebuilt table changes every fitted model's features.
MATCHER_SOURCES = tuple(Path(__file__).resolve().parent / "nlu" / name
                        for name in ("matcher.py", "normalize.py", "entries.py", "lexicon.py", "embeddings.py",
                                     "data/word_vectors.npz"))
CACHE_KEEP = 8
# Read once, when this module (and so the matcher) is imported: a source edited while a process runs must not
# label a model that the already loaded code fits.
_SOURCES_DIGEST = hashlib.sha256(b"".join(source.read_bytes() for source in MATCHER_SOURCES)).hexdigest()


@dataclass(frozen=True)
class FAQEntry:
    """A snapshot of an FAQ row that outlives the session it was read in."""

    key: str
    category: str | None
    questions_en: tuple[str, ...]
    questions_ar: tuple[str, ...]
    answer_en: str | None
    answer_ar: str | None
    keywords: tuple[str, ...] = ()

    def answer(self, language: str) -> tuple[str, str]:
        """The answer in `language` if there is one, else the other; returns (text, language used)."""
        if language == "ar" and (self.answer_ar or "").strip():
            return self.answer_ar, "ar"
        if (self.answer_en or "").strip():
            return self.answer_en, "en"
        return self.answer_ar or "", "ar"

    def question(self, language: str) -> str:
        preferred = self.questions_ar if language == "ar" else self.questions_en
        return (preferred or self.questions_en or self.questions_ar or (self.key,))[0]


@dataclass(frozen=True)
class Candidate:
    key: str
    kind: str  # intent | faq
    score: float


@dataclass(frozen=True)
class Decision:
    """`route` at the thresholds (intent, faq, clarify, llm, fallback); `key` is the best candidate anyway."""

    route: str
    key: str | None
    kind: str | None
    confidence: float
    candidates: tuple[Candidate, ...]
    similarity: float = 0.0  # to the nearest example of the best candidate
    coverage: float = 0.0  # share of the text's words the catalogue knows


@dataclass(frozen=True)
class Gates:
    """Absolute evidence an answer or a clarifying question needs besides the confidence (measured in
    docs/matching.md: with these, no out-of-scope dev question is answered from the FAQ)."""

    answer_similarity: float = 0.35
    clarify_similarity: float = 0.30
    min_coverage: float = 0.5


class Knowledge:
    def __init__(self, intents: list[Intent], faqs: list[FAQEntry], high: float, low: float,
                 gates: Gates | None = None) -> None:
        self.intents = {i.name: i for i in intents}
        self.faqs = {f.key: f for f in faqs}
        self.high, self.low = high, low
        self.gates = gates or Gates()
        entries = [Entry(key=i.name, kind="intent", examples=i.examples_en + i.examples_ar) for i in intents]
        # The answers are weak evidence of what an entry is about (Matcher: context texts): a question can use
        # a word that only the answer has ("قهوه" where the answer lists tea and coffee).
        entries += [Entry(key=f.key, kind="faq", examples=f.questions_en + f.questions_ar + f.keywords,
                          context=tuple(a for a in (f.answer_en, f.answer_ar) if a)) for f in faqs]
        started = time.perf_counter()
        self.matcher = trained_matcher(entries) if entries else None
        log.info("matcher ready intents=%d faqs=%d seconds=%.2f", len(intents), len(faqs),
                 time.perf_counter() - started)

    def kind_of(self, key: str) -> str:
        return "intent" if key in self.intents else "faq"

    def rank(self, text: str, k: int = 5) -> list[Candidate]:
        if self.matcher is None or not normalize(text):
            return []
        return [Candidate(key, self.kind_of(key), round(float(score), 4)) for key, score in self.matcher.rank(text, k)]

    def decide(self, text: str, role: str = "attendee", llm_available: bool = True) -> Decision:
        """Pattern ▸ confident match ▸ clarify between thresholds ▸ LLM (or fallback without one)."""
        normalized = normalize(text)
        for intent in self.intents.values():
            if intent.patterns and intent.allows(role) and intent.matches_pattern(normalized):
                return Decision("intent", intent.name, "intent", 1.0, (Candidate(intent.name, "intent", 1.0),), 1.0, 1.0)
        candidates = [c for c in self.rank(text)
                      if c.kind == "faq" or self.intents[c.key].allows(role)]
        below = "llm" if llm_available else "fallback"
        if not candidates:
            return Decision(below, None, None, 0.0, ())
        best = candidates[0]
        similarity, coverage = self.matcher.evidence(text, best.key)
        gates = self.gates
        known = coverage >= gates.min_coverage
        # An intent that starts a transaction (booking, cancelling) may ask for more certainty than the default.
        high = max(self.high, self.intents[best.key].min_confidence) if best.kind == "intent" else self.high
        if best.score >= high and similarity >= gates.answer_similarity and known:
            route = best.kind
        elif best.score >= self.low and similarity >= gates.clarify_similarity and known:
            route = "clarify"
        else:
            route = below
        return Decision(route, best.key, best.kind, best.score, tuple(candidates),
                        round(similarity, 4), round(coverage, 4))


def _fingerprint(entries: list[Entry]) -> str:
    """Changes with the entries, the matcher's code and scikit-learn's version."""
    digest = hashlib.sha256(sklearn.__version__.encode())
    digest.update(_SOURCES_DIGEST.encode())
    digest.update(json.dumps([(e.key, e.kind, list(e.examples), list(e.context)) for e in entries],
                             ensure_ascii=False).encode())
    return digest.hexdigest()[:32]


def trained_matcher(entries: list[Entry]) -> Matcher:
    """A matcher fitted on `entries`, from the on-disk cache when the same catalogue was fitted before.

    Fitting a Banking77-sized catalogue takes ~20 s on two cores; workers restart and `faq match` runs far
    more often than the catalogue changes. The cache holds only files this process wrote itself.
    """
    path = MATCHER_CACHE / f"{_fingerprint(entries)}.pkl"
    try:
        with path.open("rb") as f:
            return pickle.load(f)
    except FileNotFoundError:
        pass
    except Exception:  # noqa: BLE001 - a damaged or incompatible file is simply refitted
        log.warning("matcher cache unreadable, refitting path=%s", path)
    matcher = Matcher().fit(entries)
    try:
        MATCHER_CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            pickle.dump(matcher, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old file or the whole new one
        for old in sorted(MATCHER_CACHE.glob("*.pkl"), key=lambda p: p.stat().st_mtime)[:-CACHE_KEEP]:
            old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("matcher cache not written: %s", exc)
    return matcher


def faq_snapshot(session: Session) -> list[FAQEntry]:
    rows = session.scalars(select(FAQ).where(FAQ.is_active).order_by(FAQ.key))
    return [FAQEntry(f.key, f.category, tuple(f.questions_en or ()), tuple(f.questions_ar or ()), f.answer_en,
                     f.answer_ar, tuple(f.keywords or ())) for f in rows]


def faq_version(session: Session) -> tuple:
    return tuple(session.execute(select(func.count(FAQ.id), func.max(FAQ.updated_at))).one())


class KnowledgeCache:
    """One trained `Knowledge` per process, rebuilt when the FAQ table changes."""

    def __init__(self, high: float, low: float) -> None:
        self.high, self.low = high, low
        self._lock = threading.Lock()
        self._knowledge: Knowledge | None = None
        self._version: tuple | None = None
        self._checked = 0.0

    def get(self, session: Session) -> Knowledge:
        with self._lock:
            if self._knowledge is None or time.monotonic() - self._checked > CHECK_SECONDS:
                version = faq_version(session)
                self._checked = time.monotonic()
                if self._knowledge is None or version != self._version:
                    self._knowledge = Knowledge(load_intents(), faq_snapshot(session), self.high, self.low)
                    self._version = version
            return self._knowledge

    def invalidate(self) -> None:
        with self._lock:
            self._knowledge = None
