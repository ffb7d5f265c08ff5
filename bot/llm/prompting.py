"""Builds the LLM's prompt: the versioned system template filled from the context rule, relevant facts and
the next upcoming events, then as many earlier turns as fit the token budget; and turns Markdown into
WhatsApp formatting."""
from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.settings import PROJECT_ROOT
from models import ContextRule, PromptTemplate

PROMPTS_DIR = PROJECT_ROOT / "intents" / "prompts"
ADEN = ZoneInfo("Asia/Aden")
LANGUAGE_NAMES = {"en": "English", "ar": "Arabic (العربية)"}
_CACHE_SECONDS = 30.0
_cache: dict[str, tuple[float, object]] = {}


@dataclass(frozen=True)
class Prompt:
    messages: list[dict]
    version: str
    max_length: int
    data_version: str = ""  # digest of the live data in the prompt (the events): part of the cache key


def file_templates() -> list[dict]:
    return [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(PROMPTS_DIR.glob("*.v*.yaml"))]


def file_rules() -> list[dict]:
    return yaml.safe_load((PROMPTS_DIR / "context_rules.yaml").read_text(encoding="utf-8")) or []


def _cached(key: str, load):
    """Templates and rules change rarely: re-read from the database at most every 30 s per process."""
    hit = _cache.get(key)
    if hit and time.monotonic() - hit[0] < _CACHE_SECONDS:
        return hit[1]
    value = load()
    _cache[key] = (time.monotonic(), value)
    return value


def active_template(session: Session, name: str = "assistant_system") -> tuple[str, str]:
    """(template text, version label) of the newest active version; the shipped file if the table is empty."""
    def load():
        row = session.scalars(select(PromptTemplate).where(PromptTemplate.name == name, PromptTemplate.is_active)
                              .order_by(PromptTemplate.version.desc()).limit(1)).first()
        if row is not None:
            return row.template, f"{name}.v{row.version}"
        newest = max((t for t in file_templates() if t["name"] == name), key=lambda t: t["version"])
        return newest["template"], f"{name}.v{newest['version']}"
    return _cached(f"template:{name}", load)


def active_rule(session: Session) -> dict:
    def load():
        row = session.scalars(select(ContextRule).where(ContextRule.name == "default", ContextRule.is_active)).first()
        if row is not None:
            return {"persona": row.persona, "allowed_topics": row.allowed_topics,
                    "excluded_topics": row.excluded_topics, "reply_language": row.reply_language,
                    "max_length": row.max_length}
        return next(r for r in file_rules() if r["name"] == "default")
    return _cached("rule:default", load)


def estimate_tokens(text: str) -> int:
    """A cheap upper-side estimate: Arabic script takes about one token per two characters, Latin four."""
    arabic = sum(1 for ch in text if "\u0600" <= ch <= "\u06ff")
    return 4 + arabic // 2 + (len(text) - arabic) // 4


def _facts(entries: list, language: str) -> str:
    if not entries:
        return "- (none for this question)"
    return "\n".join(f"- Q: {e.question(language)}\n  A: {e.answer(language)[0]}" for e in entries)


def _events(lines: list[str], token_budget: int) -> str:
    """As many event lines as fit a quarter of the prompt budget: the rest is for the question and history."""
    kept, budget = [], token_budget // 4
    for line in lines:
        budget -= estimate_tokens(line)
        if budget < 0:
            break
        kept.append(line)
    if not lines:
        return "- (none published)"
    if len(kept) < len(lines):
        kept.append("- (more: call list_events)")
    return "\n".join(kept)


def build_prompt(session: Session, language: str, history: list[dict], user_turn: dict, facts: list,
                 token_budget: int, events: list[str] | None = None) -> Prompt:
    """System prompt + as many recent turns as fit `token_budget` + the user's turn.

    Args:
        events: the next upcoming events, one line each; those that fit go into templates with `{events}`.
    """
    template, version = active_template(session)
    rule = active_rule(session)
    reply_language = language if rule.get("reply_language", "auto") == "auto" else rule["reply_language"]
    events_text = _events(events or [], token_budget)
    system = template.format(persona=rule["persona"], allowed_topics=", ".join(rule["allowed_topics"]),
                             excluded_topics=", ".join(rule["excluded_topics"]),
                             language_name=LANGUAGE_NAMES.get(reply_language, "English"),
                             max_length=rule["max_length"], facts=_facts(facts, reply_language),
                             events=events_text,
                             today=datetime.now(ADEN).strftime("%A %d %B %Y (%Y-%m-%d), %H:%M"))
    budget = token_budget - estimate_tokens(system) - estimate_tokens(user_turn["content"])
    kept: list[dict] = []
    for turn in reversed(history):
        cost = estimate_tokens(turn["content"])
        if cost > budget:
            break
        kept.insert(0, turn)
        budget -= cost
    messages = [{"role": "system", "content": system}, *kept, user_turn]
    return Prompt(messages=messages, version=version, max_length=int(rule["max_length"]),
                  data_version=hashlib.sha256(events_text.encode()).hexdigest()[:16])


_MD_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.M)
_MD_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
_MD_BULLET = re.compile(r"^(\s*)[*+]\s+", re.M)


def to_whatsapp(text: str) -> str:
    """Markdown that models like to produce, rewritten as WhatsApp formatting."""
    text = _MD_BOLD.sub(lambda m: f"*{m.group(1) or m.group(2)}*", text)
    text = _MD_HEADING.sub(lambda m: f"*{m.group(1).strip('*').strip()}*", text)
    text = _MD_BULLET.sub(lambda m: f"{m.group(1)}- ", text)
    text = _MD_LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    return text.strip()


def clear_cache() -> None:
    """Forgets the cached template and rule (after an edit, and between tests)."""
    _cache.clear()
