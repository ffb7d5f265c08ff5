"""The LLM route with its guard-rails: a per-user daily token budget, the response cache for non-personal
questions, the interaction log with cost, and conversation totals kept current.

`ask` returns None whenever the LLM must not or could not answer; the router then falls through to the
fallback, so the user never meets silence or a stack trace.
"""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.errors import LLMError
from bot.llm import LanguageModel
from bot.nlu.normalize import normalize
from bot.prompting import Prompt, to_whatsapp
from bot.sql import as_utc, insert_for
from models import AIInteraction, Conversation, Message, ResponseCache
from models.base import utcnow

log = logging.getLogger(__name__)

# Questions about the user's own bookings, payments or details must never be answered from a shared cache.
_PERSONAL = re.compile(
    r"\b(my|mine|me|i|i'm|im|i've|our|booked|booking ref|ticket code)\b|\d{4,}|@|"
    r"(?<!\w)(تذكرتي|تذاكري|حجزي|حجوزاتي|رقمي|اسمي|عندي|لي|انا|حسابي|طلبي|دفعت|سجلت)(?!\w)", re.IGNORECASE)


@dataclass(frozen=True)
class Answer:
    text: str
    model: str | None
    input_tokens: int
    output_tokens: int
    latency_ms: float | None
    finish_reason: str | None
    cache_hit: bool
    interaction_id: int


def cacheable(text: str) -> bool:
    """Standalone, non-personal questions of a few words only."""
    return len(text.split()) >= 3 and not _PERSONAL.search(normalize(text))


def cache_key(normalized: str, prompt_version: str, language: str) -> str:
    return hashlib.sha256(f"{prompt_version}\x1f{language}\x1f{normalized}".encode()).hexdigest()


def tokens_used_today(session: Session, user_id: int) -> int:
    since = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return session.execute(select(func.coalesce(func.sum(AIInteraction.input_tokens + AIInteraction.output_tokens), 0))
                           .where(AIInteraction.user_id == user_id, AIInteraction.created_at >= since)).scalar_one()


class Assistant:
    def __init__(self, llm: LanguageModel | None, settings) -> None:
        self.llm = llm
        self.settings = settings

    def ask(self, session: Session, inbound: Message, prompt: Prompt, language: str) -> Answer | None:
        """Answers from the cache or the LLM and logs the interaction; None when the LLM may not or could not."""
        if self.llm is None:
            return None
        used = tokens_used_today(session, inbound.user_id)
        if used >= self.settings.llm_daily_token_budget:
            log.warning("llm budget exhausted user_id=%s used=%d", inbound.user_id, used)
            return None
        key = cache_key(normalize(inbound.body), prompt.version, language) if cacheable(inbound.body) else None
        hit = self._cached(session, key) if key else None
        if hit is not None:
            return self._log(session, inbound, prompt, hit.response, hit.model, cache_hit=True)
        try:
            done = self.llm.complete(prompt.messages)
        except LLMError as exc:
            self._log(session, inbound, prompt, None, getattr(self.llm, "model", None), error=str(exc)[:1000])
            log.warning("llm failed message_id=%s error=%s", inbound.id, exc)
            return None
        text = to_whatsapp(done.text)
        if key:
            self._store(session, key, inbound.body, prompt.version, language, text, done.model)
        return self._log(session, inbound, prompt, text, done.model, input_tokens=done.prompt_tokens or 0,
                         output_tokens=done.completion_tokens or 0, latency_ms=done.latency_ms,
                         finish_reason=done.finish_reason)

    def cost(self, model: str | None, input_tokens: int, output_tokens: int) -> float:
        per_million = self.settings.llm_prices.get(model or "") or next(
            (p for name, p in self.settings.llm_prices.items() if model and model.startswith(name)), (0.0, 0.0))
        return round((input_tokens * per_million[0] + output_tokens * per_million[1]) / 1_000_000, 6)

    def _cached(self, session: Session, key: str) -> ResponseCache | None:
        row = session.scalars(select(ResponseCache).where(ResponseCache.cache_key == key)).first()
        if row is None or as_utc(row.expires_at) <= utcnow():
            return None
        session.execute(update(ResponseCache).where(ResponseCache.id == row.id)
                        .values(hit_count=ResponseCache.hit_count + 1, last_hit_at=utcnow()))
        return row

    def _store(self, session: Session, key: str, text: str, version: str, language: str, response: str,
               model: str | None) -> None:
        now = utcnow()
        expires = now + timedelta(seconds=self.settings.llm_cache_ttl_seconds)
        stmt = insert_for(session, ResponseCache.__table__).values(
            cache_key=key, normalized_text=normalize(text), prompt_version=version, language=language,
            response=response, model=model, hit_count=0, created_at=now, expires_at=expires)
        session.execute(stmt.on_conflict_do_update(index_elements=["cache_key"],
                                                   set_={"response": response, "model": model,
                                                         "created_at": now, "expires_at": expires}))

    def _log(self, session: Session, inbound: Message, prompt: Prompt, response: str | None, model: str | None,
             *, input_tokens: int = 0, output_tokens: int = 0, latency_ms: float | None = None,
             finish_reason: str | None = None, cache_hit: bool = False, error: str | None = None) -> Answer | None:
        cost = self.cost(model, input_tokens, output_tokens)
        interaction = AIInteraction(message_id=inbound.id, conversation_id=inbound.conversation_id,
                                    user_id=inbound.user_id, route="llm", prompt=prompt.messages,
                                    prompt_version=prompt.version, response=response, model=model,
                                    input_tokens=input_tokens, output_tokens=output_tokens, cost_usd=cost,
                                    latency_ms=latency_ms, finish_reason=finish_reason, cache_hit=cache_hit,
                                    error=error, created_at=utcnow())
        session.add(interaction)
        session.flush()
        if input_tokens or output_tokens:
            session.execute(update(Conversation).where(Conversation.id == inbound.conversation_id)
                            .values(total_tokens=Conversation.total_tokens + input_tokens + output_tokens,
                                    total_cost_usd=Conversation.total_cost_usd + cost))
        if response is None:
            return None
        return Answer(text=response, model=model, input_tokens=input_tokens, output_tokens=output_tokens,
                      latency_ms=latency_ms, finish_reason=finish_reason, cache_hit=cache_hit,
                      interaction_id=interaction.id)
