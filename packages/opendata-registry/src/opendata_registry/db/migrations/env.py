"""Alembic environment: migrations run on the connection the registry hands over at start."""

from __future__ import annotations

from alembic import context

from opendata_registry.db.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        # Replicas starting together: one migrates, the others wait and then find it done.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7346017)")
    context.run_migrations()
