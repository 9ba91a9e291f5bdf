"""Search's facet index: the change counter follows ``dataset_tags``; covering indexes.

Search keeps a facet index per process (:mod:`opendata_registry.domain.catalogue.facets`) keyed by
``registry_generation`` (migration 0003); topics and geography live in ``dataset_tags``, so a
write there must bump it too. On PostgreSQL the statement trigger bumped the counter once per
statement: a bulk load (one statement per row through a driver's executemany) updated the one
counter row thousands of times in one transaction. Now it is bumped once per transaction (a
transaction-local setting remembers it), which is all a reader can see anyway.

The facet index reads every (facet, value, dataset) and the keys in update order: on 100,000
datasets 0.57 s and 0.63 s on SQLite through the old indexes (a table lookup per row), 0.13 s
and 0.09 s through these covering ones. ``(facet, value, dataset_pk)`` replaces the index on
``(facet, value)``, its prefix.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_BUMP = "UPDATE registry_generation SET value = value + 1 WHERE id = 1"


def _function(body: str) -> str:
    return (
        "CREATE OR REPLACE FUNCTION registry_bump_generation() RETURNS trigger AS $$ BEGIN "
        f"{body} RETURN NULL; END $$ LANGUAGE plpgsql"
    )


def upgrade() -> None:
    """Triggers on ``dataset_tags``; on PostgreSQL one bump per transaction; the indexes."""
    dialect = op.get_bind().dialect.name
    op.drop_index("ix_dataset_tags_facet_value", table_name="dataset_tags")
    op.create_index(
        "ix_dataset_tags_facet_value_pk", "dataset_tags", ["facet", "value", "dataset_pk"]
    )
    # The order of "updated" (newest first, undated last, then id); SQLite's DESC already
    # puts NULL last, PostgreSQL's needs saying.
    nulls = " NULLS LAST" if dialect == "postgresql" else ""
    op.execute(f"CREATE INDEX ix_datasets_updated_id ON datasets (updated_at DESC{nulls}, id)")
    if dialect == "sqlite":
        for event in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER dataset_tags_generation_{event.lower()} AFTER {event} "
                f"ON dataset_tags BEGIN {_BUMP}; END"
            )
    elif dialect == "postgresql":
        op.execute(
            _function(
                "IF current_setting('opendata.generation_bumped', true) IS DISTINCT FROM "
                f"txid_current()::text THEN {_BUMP}; "
                "PERFORM set_config('opendata.generation_bumped', txid_current()::text, true); "
                "END IF;"
            )
        )
        op.execute(
            "CREATE TRIGGER dataset_tags_generation AFTER INSERT OR UPDATE OR DELETE "
            "ON dataset_tags FOR EACH STATEMENT EXECUTE FUNCTION registry_bump_generation()"
        )


def downgrade() -> None:
    """Back to migration 0003's triggers and indexes."""
    dialect = op.get_bind().dialect.name
    op.drop_index("ix_datasets_updated_id", table_name="datasets")
    op.drop_index("ix_dataset_tags_facet_value_pk", table_name="dataset_tags")
    op.create_index("ix_dataset_tags_facet_value", "dataset_tags", ["facet", "value"])
    if dialect == "sqlite":
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS dataset_tags_generation_{event}")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS dataset_tags_generation ON dataset_tags")
        op.execute(_function(f"{_BUMP};"))
