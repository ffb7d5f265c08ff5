"""Finding the user a command names by phone (any spelling) or business-scoped id; a bad or unknown one ends
the command with exit status 1 and a one-line error."""
from __future__ import annotations

import sys

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.errors import MalformedRequest
from bot.core.phones import user_address
from models import User


def address_or_exit(phone: str) -> str:
    try:
        return user_address(phone)
    except MalformedRequest as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


def user_or_exit(session: Session, address: str) -> User:
    user = session.scalars(select(User).where(User.phone == address)).first()
    if user is None:
        click.echo(f"error: no user with phone {address}", err=True)
        sys.exit(1)
    return user
