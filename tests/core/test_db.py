"""Pooled connections: a connection that died while idle (database restart, proxy timeout) is replaced."""
from sqlalchemy import create_engine, text

from bot.core.db import make_engine


def test_a_connection_killed_while_idle_is_replaced_on_checkout(migrated_database):
    engine = make_engine(migrated_database)
    with engine.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
    admin = create_engine(migrated_database, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    for record in list(engine.pool._pool.queue):
        record.info["checked_in_at"] = 0.0  # as if idle for long
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    admin.dispose()
    engine.dispose()
