"""The response cache: answers to standalone, non-personal questions (≥ 3 words, no first-person or possessive
words, no long digit runs), kept by normalised text + language + prompt version + the live data's digest for
LLM_CACHE_TTL_SECONDS. Answers built from tool results are never stored (the caller's rule).

The upsert is the one statement here that differs by database (each dialect's ON CONFLICT construct).
"""
from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.core.sql import as_utc
from bot.nlu.normalize import normalize
from models import ResponseCache
from models.base import utcnow

# Questions about the user's own bookings, payments or details must never be answered from a shared cache.
_PERSONAL = re.compile(
    r"\b(my|mine|me|i|i'm|im|i've|our|booked|booking ref|ticket code)\b|\d{4,}|@|"
    r"(?<!\w)(تذكرتي|تذاكري|حجزي|حجوزاتي|رقمي|اسمي|عندي|لي|انا|حسابي|طلبي|دفعت|سجلت)(?!\w)", re.IGNORECASE)


def cacheable(text: str) -> bool:
    """Standalone, non-personal questions of a few words only."""
    return len(text.split()) >= 3 and not _PERSONAL.search(normalize(text))


def cache_key(normalized: str, prompt_version: str, language: str, data_version: str = "") -> str:
    """`data_version` digests the live data in the prompt: an answer given from other event data is not reused."""
    return hashlib.sha256(f"{prompt_version}\x1f{language}\x1f{data_version}\x1f{normalized}".encode()).hexdigest()


_CACHE = ResponseCache.__table__
CACHED = select(ResponseCache).where(ResponseCache.cache_key == bindparam("key"))
CACHE_HIT = (update(_CACHE).where(_CACHE.c.id == bindparam("p_id"))
             .values(hit_count=_CACHE.c.hit_count + 1, last_hit_at=bindparam("p_now")))


def _cache_upsert(insert_of):
    statement = insert_of(_CACHE)
    return statement.on_conflict_do_update(index_elements=[_CACHE.c.cache_key], set_={
        "response": statement.excluded.response, "model": statement.excluded.model,
        "created_at": statement.excluded.created_at, "expires_at": statement.excluded.expires_at})


CACHE_UPSERT = {"postgresql": _cache_upsert(postgresql.insert), "sqlite": _cache_upsert(sqlite.insert)}


def cached(session: Session, key: str) -> ResponseCache | None:
    """The live entry for `key`, counted as a hit; None when there is none or it has expired."""
    row = session.scalars(CACHED, {"key": key}).first()
    if row is None or as_utc(row.expires_at) <= utcnow():
        return None
    session.execute(CACHE_HIT, {"p_id": row.id, "p_now": utcnow()})
    return row


def store(session: Session, key: str, text: str, version: str, language: str, response: str, model: str | None,
          ttl_seconds: int) -> None:
    """Keeps (or replaces) the answer to `text` under `key` for `ttl_seconds`."""
    now = utcnow()
    session.execute(CACHE_UPSERT[session.get_bind().dialect.name], {
        "cache_key": key, "normalized_text": normalize(text), "prompt_version": version, "language": language,
        "response": response, "model": model, "hit_count": 0, "created_at": now,
        "expires_at": now + timedelta(seconds=ttl_seconds)})
