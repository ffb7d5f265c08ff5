"""`flask --app app users set-role PHONE ROLE` and `flask --app app audit list [--since]`: who may use the
organizer console, and what was done with it."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

import click
from flask.cli import AppGroup
from sqlalchemy import select

from bot.core.db import db
from bot.core.sql import as_utc
from bot.ops.lookup import address_or_exit, user_or_exit
from models import AuditEntry
from models.base import utcnow

ROLES = ("attendee", "organizer", "admin")
audit_cli = AppGroup("audit", help="The audit log of organizer commands.")


@click.command("set-role")
@click.argument("phone")
@click.argument("role", type=click.Choice(ROLES))
def users_set_role(phone: str, role: str) -> None:
    """Gives the user with this phone a role (attendee, organizer or admin) and prints the change."""
    e164 = address_or_exit(phone)
    with db.session_scope() as session:
        user = user_or_exit(session, e164)
        before, user.role, user.updated_at = user.role, role, utcnow()
    click.echo(f"{e164}: {before} -> {role}")


@audit_cli.command("list")
@click.option("--since", help="ISO date or time (UTC), e.g. 2026-12-01")
@click.option("--json", "as_json", is_flag=True, help="one JSON object a line")
def audit_list(since: str | None, as_json: bool) -> None:
    """Prints the audit log, oldest first: time, phone, role, command, arguments, result."""
    query = select(AuditEntry).order_by(AuditEntry.id)
    if since:
        try:
            moment = datetime.fromisoformat(since)
        except ValueError:
            click.echo(f"error: --since must be an ISO date or time, got {since!r}", err=True)
            sys.exit(1)
        query = query.where(AuditEntry.created_at >= moment.replace(tzinfo=moment.tzinfo or timezone.utc))
    with db.session_scope() as session:
        for entry in session.scalars(query):
            record = {"at": as_utc(entry.created_at).isoformat(), "phone": entry.phone, "role": entry.role,
                      "command": entry.command, "arguments": entry.arguments, "result": entry.result,
                      "detail": entry.detail}
            click.echo(json.dumps(record, ensure_ascii=False) if as_json else
                       "  ".join(str(record[k] or "-") for k in ("at", "phone", "role", "command", "arguments",
                                                                   "result")))
