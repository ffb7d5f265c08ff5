"""Commands: `flask --app app db upgrade`, `users export PHONE`, `replies ...` and `intake ...`; the faq, events and
reminders and moderation groups and `seed-demo` live in their own modules. `init_app` registers them all."""
from __future__ import annotations

import json
import sys
from datetime import timedelta

import click
from flask import Flask
from flask.cli import AppGroup

from bot.core.db import db
from bot.intake.ingest import ingest_buffered
from bot.ops.console_cli import audit_cli, users_set_role
from bot.ops.events_cli import events_cli, seed_demo_command
from bot.ops.export import export_user
from bot.ops.faq_cli import faq_cli
from bot.ops.lookup import address_or_exit, user_or_exit
from bot.ops.moderation_cli import moderation_cli
from bot.ops.reference_data import sync_reference_data
from bot.ops.reminders_cli import reminders_cli
from bot.wiring import runtime
from models.migrate import upgrade

db_cli = AppGroup("db", help="Database schema.")
users_cli = AppGroup("users", help="Users and their data.")
replies_cli = AppGroup("replies", help="Reply jobs.")
intake_cli = AppGroup("intake", help="The buffered intake (INTAKE_MODE=buffered).")


@db_cli.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Migrates the database to the latest schema (safe to run again)."""
    upgrade(runtime().settings.database_url, revision)
    with db.session_scope() as session:
        added = sync_reference_data(session)
    click.echo(f"database at {revision}" + (f"; added {', '.join(added)}" if added else ""))


@users_cli.command("export")
@click.argument("phone")
def users_export(phone: str) -> None:
    """Prints everything stored about the user with this phone as one JSON document."""
    e164 = address_or_exit(phone)
    with db.session_scope() as session:
        document = export_user(session, user_or_exit(session, e164))
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))


@replies_cli.command("requeue")
@click.option("--older-than", default=120, show_default=True, help="seconds a turn has waited")
def replies_requeue(older_than: int) -> None:
    """Enqueues reply jobs for turns still unanswered (a lost job, or Redis down at intake); cron-safe."""
    click.echo(f"requeued {runtime().replier.requeue_stale_turns(older_than)} user(s)")


@replies_cli.command("status")
def replies_status() -> None:
    """Prints the users waiting on the ready list, the jobs queued on `replies`, the jobs that failed for good
    and the workers listening, as JSON."""
    queue = runtime().queue
    if not hasattr(queue, "status"):
        click.echo("error: replies run in the web process (no REDIS_URL): nothing is queued", err=True)
        sys.exit(1)
    click.echo(json.dumps(queue.status()))


def _buffer():
    buffer = runtime().intake_buffer
    if buffer is None:
        click.echo("error: the buffered intake is off (no REDIS_URL, or INTAKE_MODE=direct)", err=True)
        sys.exit(1)
    return buffer


@intake_cli.command("status")
def intake_status() -> None:
    """Prints how many turns wait in Redis and how many were dead-lettered, as JSON."""
    buffer = _buffer()
    click.echo(json.dumps({"buffered": buffer.size(), "dead_letters": len(buffer.dead_letters())}))


@intake_cli.command("dead")
def intake_dead() -> None:
    """Lists dead-lettered turns (items that could not be stored) with their errors, one JSON object a line."""
    for letter in _buffer().dead_letters():
        click.echo(json.dumps(letter, ensure_ascii=False))


@intake_cli.command("retry-dead")
def intake_retry_dead() -> None:
    """Moves every dead letter back into the buffer and schedules a run (after the cause was fixed)."""
    moved = _buffer().retry_dead()
    if moved:
        runtime().queue.enqueue_ingest()
    click.echo(f"moved {moved} dead letter(s) back to the buffer")


@intake_cli.command("drain")
def intake_drain() -> None:
    """Stores every buffered turn now, in this process (what the `intake` job does)."""
    rt = runtime()
    taken = ingest_buffered(_buffer(), db.engine, rt.queue, timedelta(minutes=rt.settings.conversation_idle_minutes))
    click.echo(f"took {taken} item(s) off the buffer")


def init_app(app: Flask) -> None:
    app.cli.add_command(db_cli)
    users_cli.add_command(users_set_role)
    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(replies_cli)
    app.cli.add_command(intake_cli)
    app.cli.add_command(faq_cli)
    app.cli.add_command(reminders_cli)
    app.cli.add_command(events_cli)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(moderation_cli)
