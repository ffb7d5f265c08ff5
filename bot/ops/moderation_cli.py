"""`flask --app app moderation import FILE|list`: the moderation rules as data (bot/ops/moderation_rules.py)."""
from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from bot.core.db import db
from bot.dialog.moderation import rules
from bot.ops.moderation_rules import RulesFileError, import_rules, read_rules_file
from models import ModerationRule

moderation_cli = AppGroup("moderation", help="Moderation rules.")


@moderation_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def moderation_import(path: str) -> None:
    """Upserts rules by (kind, pattern) from a CSV or YAML file; nothing is written if any line is bad."""
    try:
        rows = read_rules_file(path)
    except (RulesFileError, UnicodeDecodeError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    with db.session_scope() as session:
        result = import_rules(session, rows)
    rules.invalidate()  # this process at once; the others within rules.CHECK_SECONDS
    click.echo(f"{result.added} added, {result.updated} updated, {result.unchanged} unchanged")


@moderation_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="one JSON object a line")
def moderation_list(as_json: bool) -> None:
    """Prints every rule: id, kind, action, active, pattern, replacement, note."""
    with db.session_scope() as session:
        stored = list(session.scalars(select(ModerationRule).order_by(ModerationRule.id)))
        for r in stored:
            row = {"id": r.id, "kind": r.kind, "action": r.action, "active": r.active, "pattern": r.pattern,
                   "replacement": r.replacement, "note": r.note}
            click.echo(json.dumps(row, ensure_ascii=False) if as_json else _line(row))
    if not stored and not as_json:
        click.echo("no moderation rules (add some with `moderation import FILE`)")


def _line(row: dict) -> str:
    replacement = f" → {row['replacement'] or rules.DEFAULT_REPLACEMENT}" if row["action"] == "replace" else ""
    note = f"  # {row['note']}" if row["note"] else ""
    state = "on " if row["active"] else "off"
    return f"{row['id']:>4}  {row['kind']:<5}  {row['action']:<7}  {state}  {row['pattern']}{replacement}{note}"
