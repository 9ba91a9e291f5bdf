"""Alembic migrations (run at start by :func:`opendata_registry.db.engine.migrate`)."""
