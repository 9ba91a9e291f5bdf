"""The catalogue, publishes, runs, API keys, usage counters, leases and full-text search.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opendata_registry.db.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create every table and the dialect's full-text index."""
    op.create_table(
        "datasets",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(141), nullable=False, unique=True),
        sa.Column("namespace", sa.String(39), nullable=False, index=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("topics_text", sa.Text, nullable=False),
        sa.Column("license", sa.String(200), nullable=False, index=True),
        sa.Column("frequency", sa.String(20), nullable=True, index=True),
        sa.Column("updated_at", UTCDateTime, nullable=True, index=True),
        sa.Column("min_time", sa.String(40), nullable=True),
        sa.Column("max_time", sa.String(40), nullable=True),
        sa.Column("publish_id", sa.String(100), nullable=False),
        sa.Column("published_at", UTCDateTime, nullable=False),
        sa.Column("entry_json", sa.Text, nullable=False),
        sa.Column("metadata_json", sa.Text, nullable=False),
        sa.Column("manifest_json", sa.Text, nullable=False),
        sa.Column("readme", sa.Text, nullable=False),
        sa.Column("manifest_etag", sa.String(200), nullable=False),
        sa.Column("metadata_etag", sa.String(200), nullable=False),
        sa.Column("readme_etag", sa.String(200), nullable=False),
        sa.Column("synced_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "dataset_tags",
        sa.Column(
            "dataset_pk",
            sa.Integer,
            sa.ForeignKey("datasets.pk", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("facet", sa.String(20), primary_key=True),
        sa.Column("value", sa.String(100), primary_key=True),
    )
    op.create_index("ix_dataset_tags_facet_value", "dataset_tags", ["facet", "value"])
    op.create_table(
        "publishes",
        sa.Column("dataset_id", sa.String(141), primary_key=True),
        sa.Column("publish_id", sa.String(100), primary_key=True),
        sa.Column("published_at", UTCDateTime, nullable=False),
        sa.Column("summary_json", sa.Text, nullable=False),
        sa.Column("manifest_json", sa.Text, nullable=False),
        sa.Column("seen_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_publishes_dataset_time", "publishes", ["dataset_id", "published_at"])
    op.create_table(
        "runs",
        sa.Column("dataset_id", sa.String(141), primary_key=True),
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("publish_id", sa.String(100), nullable=True),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=False),
        sa.Column("summary_json", sa.Text, nullable=False),
    )
    op.create_index("ix_runs_dataset_started", "runs", ["dataset_id", "started_at"])
    op.create_table(
        "api_keys",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("prefix", sa.String(40), nullable=False, index=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("tier", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
    )
    op.create_table(
        "usage",
        sa.Column("subject", sa.String(100), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("downloads", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("failures", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("holder", sa.String(100), nullable=False),
        sa.Column("until", UTCDateTime, nullable=False),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # An external-content FTS5 index over `datasets`, kept current by triggers.
        op.execute(
            "CREATE VIRTUAL TABLE datasets_fts USING fts5(id, title, description, topics_text, "
            "content='datasets', "
            "content_rowid='pk', tokenize='porter unicode61')"
        )
        # Plain literals (no formatting): the trigger bodies are fixed SQL.
        op.execute(
            "CREATE TRIGGER datasets_fts_ai AFTER INSERT ON datasets BEGIN "
            "INSERT INTO datasets_fts(rowid, id, title, description, topics_text) "
            "VALUES (new.pk, new.id, new.title, new.description, new.topics_text); END"
        )
        op.execute(
            "CREATE TRIGGER datasets_fts_ad AFTER DELETE ON datasets BEGIN "
            "INSERT INTO datasets_fts(datasets_fts, rowid, id, title, description, topics_text) "
            "VALUES ('delete', old.pk, old.id, old.title, old.description, old.topics_text); END"
        )
        op.execute(
            "CREATE TRIGGER datasets_fts_au AFTER UPDATE OF id, title, description, topics_text "
            "ON datasets BEGIN "
            "INSERT INTO datasets_fts(datasets_fts, rowid, id, title, description, topics_text) "
            "VALUES ('delete', old.pk, old.id, old.title, old.description, old.topics_text); "
            "INSERT INTO datasets_fts(rowid, id, title, description, topics_text) "
            "VALUES (new.pk, new.id, new.title, new.description, new.topics_text); END"
        )
    elif dialect == "postgresql":
        # A generated, weighted tsvector (id and title first), with a GIN index.
        op.execute(
            "ALTER TABLE datasets ADD COLUMN search tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('simple', translate(id, '/-_.', '    ')), 'A') || "
            "setweight(to_tsvector('english', title), 'A') || "
            "setweight(to_tsvector('english', topics_text), 'B') || "
            "setweight(to_tsvector('english', description), 'C')) STORED"
        )
        op.execute("CREATE INDEX ix_datasets_search ON datasets USING GIN (search)")


def downgrade() -> None:
    """Drop everything."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS datasets_fts")
    for table in ("leases", "usage", "api_keys", "runs", "publishes", "dataset_tags", "datasets"):
        op.drop_table(table)
