"""Taking a broadcast's next recipient, per database: the one place where broadcasts fork by dialect.

PostgreSQL: one UPDATE over a `FOR UPDATE SKIP LOCKED` subquery, so any number of threads and workers take
different recipients without waiting on each other. SQLite (the embedded mode, one writer at a time): a SELECT,
then an UPDATE that only succeeds while the row is still queued.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, bindparam, text
from sqlalchemy.orm import Session

from models.base import UTCDateTime


def _timed(sql: str, *names: str):
    """The statement with its time parameters typed, so SQLite compares them as the ORM stored them."""
    return text(sql).bindparams(*(bindparam(name, type_=UTCDateTime) for name in names))


# the broadcast is still sending and not paused (WhatsApp's 63018), checked in the same statement as the claim
_LIVE = """EXISTS (SELECT 1 FROM broadcasts b WHERE b.id = :b AND b.status = 'sending'
                   AND (b.paused_until IS NULL OR b.paused_until <= :now))"""
_CLAIM_PG = _timed(f"""
    UPDATE broadcast_recipients SET status = 'claimed', claimed_at = :now
    WHERE id = (SELECT id FROM broadcast_recipients WHERE broadcast_id = :b AND status = 'queued'
                ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) AND {_LIVE}
    RETURNING id, user_id""", "now")
_NEXT_SQLITE = _timed(f"""SELECT id, user_id FROM broadcast_recipients
                        WHERE broadcast_id = :b AND status = 'queued' AND {_LIVE} ORDER BY id LIMIT 1""", "now")
_CLAIM_SQLITE = _timed("""UPDATE broadcast_recipients SET status = 'claimed', claimed_at = :now
                        WHERE id = :id AND status = 'queued'""", "now")
# a recipient whose message was stored but never handed to Twilio (its sender died between the two)
_STALE = _timed(f"""
    SELECT r.id, r.user_id, r.message_id, r.claimed_at FROM broadcast_recipients r
    JOIN messages m ON m.id = r.message_id
    WHERE r.broadcast_id = :b AND r.status = 'claimed' AND m.status = 'pending' AND r.claimed_at < :stale
          AND {_LIVE}
    ORDER BY r.id LIMIT 1""", "now", "stale").columns(id=Integer, user_id=Integer, message_id=Integer,
                                                      claimed_at=UTCDateTime)
_RETAKE = _timed("""UPDATE broadcast_recipients SET claimed_at = :now WHERE id = :id AND claimed_at = :was""",
                 "now", "was")


def claim_next(session: Session, broadcast_id: int, now: datetime) -> tuple[int, int] | None:
    """(recipient id, user id) of the next queued recipient, now `claimed` (uncommitted); None when none is
    left or the broadcast is cancelled or paused."""
    params = {"b": broadcast_id, "now": now}
    if session.get_bind().dialect.name == "postgresql":
        row = session.execute(_CLAIM_PG, params).first()
        return (row.id, row.user_id) if row else None
    while True:
        row = session.execute(_NEXT_SQLITE, params).first()
        if row is None:
            return None
        if session.execute(_CLAIM_SQLITE, {"id": row.id, "now": now}).rowcount == 1:
            return row.id, row.user_id


def retake_stale(session: Session, broadcast_id: int, now: datetime, stale: datetime) -> tuple[int, int] | None:
    """(recipient id, message id) of a recipient claimed before `stale` whose message is still `pending`, taken
    over (uncommitted); None when there is none. Sending it is safe: `pending` means no REST call began."""
    row = session.execute(_STALE, {"b": broadcast_id, "now": now, "stale": stale}).first()
    if row is None:
        return None
    if session.execute(_RETAKE, {"id": row.id, "now": now, "was": row.claimed_at}).rowcount != 1:
        return None
    return row.id, row.message_id
