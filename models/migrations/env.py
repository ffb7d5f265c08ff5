"""Alembic environment: `models.migrate` (what `flask --app app db upgrade` runs) passes the URL in the Config's
`sqlalchemy.url`, taken from the bot's settings; the models know nothing of the bot."""
from alembic import context
from sqlalchemy import engine_from_config, pool

import models

config = context.config
url = config.get_main_option("sqlalchemy.url")
if not url:
    raise SystemExit("run migrations with `flask --app app db upgrade` (models/migrate.py sets the database URL)")
target_metadata = models.Base.metadata


def run_offline() -> None:
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connectable = engine_from_config({"sqlalchemy.url": url}, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=url.startswith("sqlite"))
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
