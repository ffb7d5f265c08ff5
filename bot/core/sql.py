"""Dialect-aware statement helpers: PostgreSQL in production and tests, SQLite in the embedded mode."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import bindparam, text
from sqlalchemy.sql.elements import TextClause

from models.base import JSONType, UTCDateTime


def prebuilt(statement: str, *times: str, json: tuple[str, ...] = ()) -> TextClause:
    """A hot path's statement as SQL written once: a Core construct with many parameters or subqueries costs
    several times more CPU per execution (docs/benchmarks.md). `times` name the parameters holding datetimes
    and `json` those holding JSON, so they are stored as the typed columns would store them."""
    params = [bindparam(name, type_=UTCDateTime) for name in times]
    params += [bindparam(name, type_=JSONType) for name in json]
    return text(statement).bindparams(*params)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; every stored time is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value
