"""The database: models, engine and alembic migrations."""
