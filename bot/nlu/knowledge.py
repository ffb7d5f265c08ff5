"""What the bot knows: intents (YAML) and FAQ entries behind one trained matcher, and the routing decision at
the configured thresholds. `bot.nlu.knowledge_cache` keeps one trained `Knowledge` per process."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from bot.nlu.background import BACKGROUND_KEY, background_entry
from bot.nlu.entries import Entry
from bot.nlu.fitted import trained_matcher
from bot.nlu.intents import Intent
from bot.nlu.matcher import MatcherConfig
from bot.nlu.normalize import normalize

log = logging.getLogger(__name__)


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
    # The background class's probability from which a message is off-topic (never answered or clarified).
    off_topic: float = 0.5


class Knowledge:
    """Intents and FAQ entries behind one matcher, and the routing decision (``decide``).

    With ``background`` (the default) the matcher also learns the background class of generic off-topic
    messages (bot/nlu/background.py); a message it wins is never answered from the FAQ or an intent.
    ``config`` (default: ``MatcherConfig()``) is for benchmarks and experiments.
    """

    def __init__(self, intents: list[Intent], faqs: list[FAQEntry], high: float, low: float,
                 gates: Gates | None = None, background: bool = True, config: MatcherConfig | None = None) -> None:
        self.intents = {i.name: i for i in intents}
        self.faqs = {f.key: f for f in faqs}
        self.high, self.low = high, low
        self.gates = gates or Gates()
        entries = [Entry(key=i.name, kind="intent", examples=i.examples_en + i.examples_ar) for i in intents]
        # The answers are weak evidence of what an entry is about (Matcher: context texts): a question can use
        # a word that only the answer has ("قهوه" where the answer lists tea and coffee).
        entries += [Entry(key=f.key, kind="faq", examples=f.questions_en + f.questions_ar + f.keywords,
                          context=tuple(a for a in (f.answer_en, f.answer_ar) if a)) for f in faqs]
        if entries and background:
            entries.append(background_entry())
        started = time.perf_counter()
        self.matcher = trained_matcher(entries, config) if entries else None
        log.info("matcher ready intents=%d faqs=%d seconds=%.2f", len(intents), len(faqs),
                 time.perf_counter() - started)

    def kind_of(self, key: str) -> str:
        if key == BACKGROUND_KEY:
            return "background"
        return "intent" if key in self.intents else "faq"

    def _ranked(self, text: str, k: int) -> tuple[list[Candidate], float]:
        """(the top ``k`` intents and FAQ entries, the background class's probability). The scores are
        renormalised over the entries (p / (1 − p_background)): how sure the matcher is *which* entry it is,
        once it is about one; whether it is about any is the background's share."""
        if self.matcher is None or not normalize(text):
            return [], 0.0
        ranked = self.matcher.rank(text, k + 1)
        background = next((score for key, score in ranked if key == BACKGROUND_KEY), 0.0)
        scale = 1.0 / max(1.0 - background, 1e-9)
        return [Candidate(key, self.kind_of(key), round(min(float(score) * scale, 1.0), 4))
                for key, score in ranked if key != BACKGROUND_KEY][:k], background

    def rank(self, text: str, k: int = 5) -> list[Candidate]:
        """The top ``k`` intents and FAQ entries for the text, best first (never the background class)."""
        return self._ranked(text, k)[0]

    def decide(self, text: str, role: str = "attendee", llm_available: bool = True) -> Decision:
        """Pattern ▸ confident match ▸ clarify between thresholds ▸ LLM (or fallback without one).

        A message the background class holds at least ``Gates.off_topic`` of the probability for is
        off-topic: it goes to the LLM (or the fallback), and the decision still names the best intent or FAQ
        entry as ``key`` (what the matcher would have picked).
        """
        normalized = normalize(text)
        for intent in self.intents.values():
            if intent.patterns and intent.allows(role) and intent.matches_pattern(normalized):
                return Decision("intent", intent.name, "intent", 1.0, (Candidate(intent.name, "intent", 1.0),),
                                1.0, 1.0)
        ranked, background = self._ranked(text, 6)
        candidates = [c for c in ranked if c.kind == "faq" or self.intents[c.key].allows(role)][:5]
        below = "llm" if llm_available else "fallback"
        if not candidates:
            return Decision(below, None, None, 0.0, ())
        best = candidates[0]
        similarity, coverage = self.matcher.evidence(text, best.key)
        route = below if background >= self.gates.off_topic else self._route(best, similarity, coverage, below)
        return Decision(route, best.key, best.kind, best.score, tuple(candidates),
                        round(similarity, 4), round(coverage, 4))

    def _route(self, best: Candidate, similarity: float, coverage: float, below: str) -> str:
        """Answer, clarify or ``below`` for a candidate of an on-topic message, by confidence and evidence."""
        gates = self.gates
        known = coverage >= gates.min_coverage
        # An intent that starts a transaction (booking, cancelling) may ask for more certainty than the default.
        high = max(self.high, self.intents[best.key].min_confidence) if best.kind == "intent" else self.high
        if best.score >= high and similarity >= gates.answer_similarity and known:
            return best.kind
        if best.score >= self.low and similarity >= gates.clarify_similarity and known:
            return "clarify"
        return below
