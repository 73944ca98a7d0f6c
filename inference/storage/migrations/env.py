"""Alembic environment: runs on the connection handed in by ``inference.storage.engine.upgrade``,
or on ``FEEDBACK_DATABASE_URL`` when called from the ``alembic`` command line."""

from __future__ import annotations

from alembic import context

from inference.storage.tables import Base

target_metadata = Base.metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        from inference.storage.engine import make_engine
        from models.settings import get_settings

        with make_engine(get_settings().database_url).connect() as conn:
            context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()
