"""Data the bot ships with: prompt templates and context rules from `intents/prompts/`, stored by
`flask --app app db upgrade` so organisers can see and edit them in the database."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.llm.prompting import file_rules, file_templates
from models import ContextRule, PromptTemplate


def sync_reference_data(session: Session) -> list[str]:
    """Adds template versions and rules that are not stored yet; never overwrites stored ones."""
    added = []
    stored = set(session.execute(select(PromptTemplate.name, PromptTemplate.version)).all())
    for t in file_templates():
        if (t["name"], t["version"]) not in stored:
            session.add(PromptTemplate(name=t["name"], version=t["version"], template=t["template"],
                                       variables=t.get("variables") or []))
            added.append(f"prompt {t['name']} v{t['version']}")
    rules = set(session.scalars(select(ContextRule.name)))
    for r in file_rules():
        if r["name"] not in rules:
            session.add(ContextRule(name=r["name"], persona=r["persona"], allowed_topics=r["allowed_topics"],
                                    excluded_topics=r["excluded_topics"],
                                    reply_language=r.get("reply_language", "auto"),
                                    max_length=int(r.get("max_length", 700))))
            added.append(f"context rule {r['name']}")
    return added
