"""Alembic's environment for kbot's store: it runs on the connection ``kbot.store.database.migrate`` passes in."""

from __future__ import annotations

from alembic import context

from kbot.store.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("kbot's migrations run through kbot.store.database.migrate(), which passes a connection")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
