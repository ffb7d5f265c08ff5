"""FAQ files in and out: CSV (the format of ../shared/eval) or YAML, upserted by `key`, all or nothing.

CSV header: key,category,question_en,question_ar,answer_en,answer_ar,keywords — several phrasings in one
cell are separated by " | ", keywords by commas. YAML: a list of mappings with the same fields, where the
question and keyword fields may also be lists.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import FAQ

COLUMNS = ["key", "category", "question_en", "question_ar", "answer_en", "answer_ar", "keywords"]
KEY_PATTERN = re.compile(r"^[^\s,|]{1,100}$")
PHRASE_SEPARATOR = " | "


class FAQFileError(ValueError):
    """A FAQ file that cannot be imported; the message names every bad row."""


@dataclass(frozen=True)
class FAQRow:
    key: str
    category: str | None
    questions_en: list[str]
    questions_ar: list[str]
    answer_en: str | None
    answer_ar: str | None
    keywords: list[str]


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int


def _split(value, separator: str) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(separator.strip())
    return [str(item).strip() for item in items if str(item).strip()]


def _row(number: int, raw: dict) -> tuple[FAQRow | None, str | None]:
    key = str(raw.get("key") or "").strip()
    label = f"row {number}" + (f" (key {key!r})" if key else "")
    if not KEY_PATTERN.match(key):
        return None, f"{label}: key must be 1-100 characters without spaces, commas or '|'"
    row = FAQRow(key=key, category=(str(raw.get("category") or "").strip() or None),
                 questions_en=_split(raw.get("question_en"), PHRASE_SEPARATOR),
                 questions_ar=_split(raw.get("question_ar"), PHRASE_SEPARATOR),
                 answer_en=(str(raw.get("answer_en") or "").strip() or None),
                 answer_ar=(str(raw.get("answer_ar") or "").strip() or None),
                 keywords=_split(raw.get("keywords"), ","))
    if not row.questions_en and not row.questions_ar:
        return None, f"{label}: needs at least one question in question_en or question_ar"
    if not row.answer_en and not row.answer_ar:
        return None, f"{label}: needs an answer in answer_en or answer_ar"
    return row, None


def _raw_rows(path: Path) -> list[tuple[int, dict]]:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in (".yaml", ".yml"):
        data = yaml.safe_load(text) or []
        if isinstance(data, dict):
            data = data.get("faq") or data.get("entries") or []
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise FAQFileError(f"{path}: expected a list of entries")
        return list(enumerate(data, start=1))
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("key", "answer_en", "answer_ar") if c not in (reader.fieldnames or [])]
    if missing:
        raise FAQFileError(f"{path}: header lacks {', '.join(missing)} (expected {','.join(COLUMNS)})")
    return [(line, raw) for line, raw in enumerate(reader, start=2)]  # line 1 is the header


def read_faq_file(path: str | Path) -> list[FAQRow]:
    """Parses and checks the whole file; raises FAQFileError naming every bad row and duplicate key."""
    rows, errors, seen = [], [], {}
    for number, raw in _raw_rows(Path(path)):
        row, error = _row(number, raw)
        if error:
            errors.append(error)
        elif row.key in seen:
            errors.append(f"row {number} (key {row.key!r}): duplicate of row {seen[row.key]}")
        else:
            seen[row.key] = number
            rows.append(row)
    if errors:
        raise FAQFileError("; ".join(errors))
    return rows


def import_rows(session: Session, rows: list[FAQRow]) -> ImportResult:
    """Upserts by key in the caller's transaction; counters (views, feedback) are kept."""
    existing = {f.key: f for f in session.scalars(select(FAQ).where(FAQ.key.in_([r.key for r in rows])))}
    created = updated = unchanged = 0
    for row in rows:
        values = {"category": row.category, "questions_en": row.questions_en, "questions_ar": row.questions_ar,
                  "answer_en": row.answer_en, "answer_ar": row.answer_ar, "keywords": row.keywords,
                  "is_active": True}
        faq = existing.get(row.key)
        if faq is None:
            session.add(FAQ(key=row.key, **values))
            created += 1
        elif any(getattr(faq, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(faq, name, value)
            updated += 1
        else:
            unchanged += 1
    return ImportResult(created, updated, unchanged)


def export_rows(session: Session, path: str | Path) -> int:
    """Writes every FAQ entry in the import format (YAML for .yaml/.yml, else CSV); returns the count."""
    entries = list(session.scalars(select(FAQ).order_by(FAQ.key)))
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        data = [{"key": f.key, "category": f.category, "question_en": f.questions_en,
                 "question_ar": f.questions_ar, "answer_en": f.answer_en, "answer_ar": f.answer_ar,
                 "keywords": f.keywords, "active": f.is_active} for f in entries]
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return len(entries)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for e in entries:
            writer.writerow([e.key, e.category or "", PHRASE_SEPARATOR.join(e.questions_en),
                             PHRASE_SEPARATOR.join(e.questions_ar), e.answer_en or "", e.answer_ar or "",
                             ",".join(e.keywords)])
    return len(entries)
