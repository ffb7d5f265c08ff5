"""`flask --app app reminders send`: one reminder sweep, for deployments that schedule it with cron.

Safe alongside the clock process and other runs: each reminder is claimed in the database before it is sent.
"""
from __future__ import annotations

import click
from flask.cli import AppGroup

from bot.campaigns.reminders import send_due_reminders
from bot.core.db import db
from bot.wiring import runtime

reminders_cli = AppGroup("reminders", help="Event reminders.")


@reminders_cli.command("send")
def reminders_send() -> None:
    """Sends the reminders that are due now and prints how many were sent, skipped and failed."""
    with db.session_scope() as session:
        rt = runtime()
        summary = send_due_reminders(session, rt.settings, rt.dispatcher)
    click.echo(f"reminders: {summary.sent} sent, {summary.skipped} skipped, {summary.failed} failed")
