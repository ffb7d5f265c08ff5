"""One trained `Knowledge` per process, rebuilt when the FAQ table changes.

Each process keeps one trained model and checks at most every few seconds whether the FAQ changed (an import in
another process bumps its row count or newest `updated_at`), retraining only then (from the on-disk cache of
fitted matchers, `bot.nlu.fitted`, when that catalogue was fitted before).
"""
from __future__ import annotations

import threading
import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.nlu.intents import load_intents
from bot.nlu.knowledge import FAQEntry, Knowledge
from models import FAQ

CHECK_SECONDS = 5.0


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
