"""`flask --app app faq import|export|match`: the FAQ as data, and the router's decision explained."""
from __future__ import annotations

import json
import sys
import time

import click
from flask.cli import AppGroup

from bot.core.db import db
from bot.nlu.faq_files import FAQFileError, export_rows, import_rows, read_faq_file
from bot.nlu.intents import load_intents
from bot.nlu.knowledge import Knowledge
from bot.nlu.knowledge_cache import faq_snapshot
from bot.wiring import runtime

faq_cli = AppGroup("faq", help="FAQ entries and the matcher.")


def _knowledge() -> Knowledge:
    settings = runtime().settings
    with db.session_scope() as session:
        return Knowledge(load_intents(), faq_snapshot(session), settings.match_high, settings.match_low)


@faq_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def faq_import(path: str) -> None:
    """Upserts FAQ entries by key from a CSV or YAML file; nothing is written if any row is bad."""
    try:
        rows = read_faq_file(path)
    except (FAQFileError, UnicodeDecodeError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    clashes = sorted({r.key for r in rows} & {i.name for i in load_intents()})
    if clashes:
        click.echo(f"error: FAQ keys clash with intent names: {', '.join(clashes)}", err=True)
        sys.exit(1)
    with db.session_scope() as session:
        result = import_rows(session, rows)
    runtime().knowledge.invalidate()
    started = time.perf_counter()
    knowledge = _knowledge()
    click.echo(f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged; "
               f"matcher retrained on {len(knowledge.faqs)} FAQ entries and {len(knowledge.intents)} intents "
               f"in {time.perf_counter() - started:.2f}s")


@faq_cli.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def faq_export(path: str) -> None:
    """Writes every FAQ entry in the import format (.csv or .yaml)."""
    with db.session_scope() as session:
        count = export_rows(session, path)
    click.echo(f"exported {count} entries to {path}")


def _decision_json(knowledge: Knowledge, text: str, llm_available: bool) -> dict:
    d = knowledge.decide(text, llm_available=llm_available)
    return {"text": text, "route": d.route, "key": d.key, "confidence": round(d.confidence, 4),
            "candidates": [{"key": c.key, "score": c.score} for c in d.candidates]}


@faq_cli.command("match")
@click.argument("text", required=False)
@click.option("--file", "queries", type=click.File("r", encoding="utf-8"), help="one query a line")
@click.option("--json", "as_json", is_flag=True, help="one JSON object a line")
def faq_match(text: str | None, queries, as_json: bool) -> None:
    """Explains how TEXT (or each line of --file) would be routed at the configured thresholds."""
    if not text and queries is None:
        raise click.UsageError("give TEXT or --file QUERIES")
    knowledge = _knowledge()
    llm_available = runtime().llm is not None
    lines = [text] if text else (line.rstrip("\n") for line in queries)
    for line in lines:
        if not line.strip():
            continue
        result = _decision_json(knowledge, line, llm_available)
        if as_json:
            click.echo(json.dumps(result, ensure_ascii=False))
        else:
            click.echo(_explain(knowledge, result))


def _explain(knowledge: Knowledge, result: dict) -> str:
    lines = [f"text:       {result['text']}",
             f"route:      {result['route']}  (answer ≥ {knowledge.high}, clarify ≥ {knowledge.low}, else LLM)",
             f"best:       {result['key']} ({result['confidence']:.3f})"]
    for c in result["candidates"]:
        lines.append(f"  {c['score']:.3f}  {knowledge.kind_of(c['key']):6}  {c['key']}")
    return "\n".join(lines) + "\n"
