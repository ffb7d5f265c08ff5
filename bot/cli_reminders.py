"""`flask --app app reminders send`: one reminder sweep, for deployments that schedule it with cron.

Safe alongside the clock process and other runs: each reminder is claimed in the database before it is sent.
"""
from __future__ import annotations

import click
from flask.cli import AppGroup

from bot.db import db
from bot.reminders import send_due_reminders
from bot.runtime import runtime

reminders_cli = AppGroup("reminders", help="Event reminders.")


@reminders_cli.command("send")
def reminders_send() -> None:
    """Sends the reminders that are due now and prints how many were sent, skipped and failed."""
    with db.session_scope() as session:
        summary = send_due_reminders(session, runtime())
    click.echo(f"reminders: {summary.sent} sent, {summary.skipped} skipped, {summary.failed} failed")
