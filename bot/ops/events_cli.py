"""`flask --app app events import|export|list` and `flask --app app seed-demo`: events as data files, a
glance at what is on sale, and demo data for a fresh install (docs/events-import.md)."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from bot.core.db import db
from bot.core.errors import EventFileError
from bot.core.sql import as_utc
from bot.events.demo import seed_demo
from bot.events.files import export_events, import_rows, read_events_file
from bot.i18n import localize
from bot.nlu.faq_files import FAQFileError
from bot.wiring import runtime
from models import Event

events_cli = AppGroup("events", help="Events: import and export files, list them.")
LIST_HEADER = ("CODE", "STARTS (LOCAL)", "PRICE", "SEATS", "STATUS", "TITLE")


def _fail(errors: list[str]) -> None:
    for error in errors:
        click.echo(f"error: {error}", err=True)
    sys.exit(1)


@events_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def events_import(path: str) -> None:
    """Upserts events by code from a CSV or YAML file; nothing is written if any row is bad."""
    try:
        rows = read_events_file(path)
        with db.session_scope() as session:
            result = import_rows(session, rows)
    except EventFileError as exc:
        _fail(exc.errors)
    except UnicodeDecodeError as exc:
        _fail([f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})"])
    click.echo(str(result))


@events_cli.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def events_export(path: str) -> None:
    """Writes every event in the import format (.csv or .yaml)."""
    with db.session_scope() as session:
        count = export_events(session, path)
    click.echo(f"exported {count} events to {path}")


def list_line(event: Event) -> tuple[str, ...]:
    local = as_utc(event.starts_at).astimezone(localize.zone(event.timezone))
    price = f"{event.price_yer:,} YER" if event.price_yer else "free"
    return (event.code, local.strftime("%Y-%m-%d %H:%M %Z"), price, f"{event.seats_taken}/{event.capacity}",
            event.status, event.title_en)


@events_cli.command("list")
def events_list() -> None:
    """A table of every event, soonest first: code, local start, price, seats taken/capacity, status."""
    with db.session_scope() as session:
        lines = [list_line(e) for e in session.scalars(select(Event).order_by(Event.starts_at, Event.code))]
    if not lines:
        click.echo("no events")
        return
    widths = [max(len(line[i]) for line in [LIST_HEADER, *lines]) for i in range(len(LIST_HEADER))]
    for line in [LIST_HEADER, *lines]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


@click.command("seed-demo")
@click.option("--force", is_flag=True, help="allow it with BOT_ENV=production")
@with_appcontext
def seed_demo_command(force: bool) -> None:
    """Adds demo events in Aden, the events FAQ and a demo organizer; safe to run again."""
    settings = runtime().settings
    if settings.env == "production" and not force:
        _fail(["seed-demo writes demo events and users; refusing with BOT_ENV=production (use --force)"])
    try:
        with db.session_scope() as session:
            result = seed_demo(session, settings.max_seats_per_ticket)
    except (EventFileError, FAQFileError) as exc:  # the committed demo files are broken
        _fail(getattr(exc, "errors", [str(exc)]))
    runtime().knowledge.invalidate()
    click.echo(str(result))
