"""Matcher training entries and a loader for the project's FAQ/intent CSV import format."""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Kind = Literal["faq", "intent", "background"]
PHRASING_SEPARATOR = " | "


@dataclass(frozen=True)
class Entry:
    """One thing the matcher can recognise: an FAQ answer or a bot intent, with its example phrasings; or the
    background class of off-topic messages (kind "background": its words are not known words for coverage)."""

    key: str
    kind: Kind
    examples: tuple[str, ...]
    # Texts about the entry that are not questions (an FAQ entry's answers): weak training evidence only.
    context: tuple[str, ...] = ()
    meta: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


def split_phrasings(cell: str | None) -> list[str]:
    """Split a CSV cell holding several phrasings separated by " | " (blank parts dropped)."""
    if not cell:
        return []
    return [part.strip() for part in cell.split("|") if part.strip()]


def load_faq_csv(path: str | Path, kind: Kind = "faq", include_keywords: bool = True) -> list[Entry]:
    """Read ``key,category,question_en,question_ar,answer_en,answer_ar,keywords`` rows into entries.

    English and Arabic phrasings both become examples. Keywords (comma separated) are added as one-word
    examples when ``include_keywords`` is set: they let a bare "wifi?" or "sponsorship" find its entry.
    """
    entries: list[Entry] = []
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            examples = split_phrasings(row.get("question_en")) + split_phrasings(row.get("question_ar"))
            if include_keywords:
                examples += [k.strip() for k in (row.get("keywords") or "").split(",") if k.strip()]
            meta = {name: row.get(name) or "" for name in ("category", "answer_en", "answer_ar")}
            entries.append(Entry(key=row["key"], kind=kind, examples=tuple(examples), meta=meta))
    return entries


def load_queries(path: str | Path) -> list[dict[str, str]]:
    """Read an evaluation CSV (``text,expected_key[,language]``) into a list of dicts."""
    with open(path, encoding="utf-8", newline="") as fh:
        return [dict(row) for row in csv.DictReader(fh)]
