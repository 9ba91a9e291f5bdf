"""SQLite: the search triggers stand aside while an empty catalogue is bulk-loaded (issue 28).

Filling 100,000 datasets with the full-text and word-count triggers of migrations 0008 and 0012
firing on every row cost a third of SQLite's time; building both once at the end costs 3 s.
Each of those six triggers now does nothing while the ``sync_state`` row ``bulk_load`` exists
(:mod:`opendata_registry.db.bulk` sets it, and rebuilds the index and the counts in the same
transaction that deletes it). PostgreSQL is unchanged.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from opendata_registry.db.bulk import BULK_LOAD
from opendata_registry.db.migrations.versions.v0012_search_vocabulary import (
    _SQLITE_DELTA,
    _SQLITE_NEW,
    _SQLITE_OLD,
    _SQLITE_UNUSED,
)

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_COLUMNS = "id, title, description, topics_text, search_stems"  # the FTS5 table's (0008)
_NEW = ", ".join(f"new.{c}" for c in _COLUMNS.split(", "))
_OLD = ", ".join(f"old.{c}" for c in _COLUMNS.split(", "))
# Fixed SQL, no input.
_FTS_INSERT = f"INSERT INTO datasets_fts(rowid, {_COLUMNS}) VALUES (new.pk, {_NEW});"  # noqa: S608
_FTS_DELETE = (
    f"INSERT INTO datasets_fts(datasets_fts, rowid, {_COLUMNS}) VALUES ('delete', old.pk, {_OLD});"  # noqa: S608
)
_NOT_BULK = f"NOT EXISTS (SELECT 1 FROM sync_state WHERE name = '{BULK_LOAD}')"  # noqa: S608


def _triggers(guard: str) -> dict[str, str]:
    """The six triggers, each firing only when ``guard`` holds (``"1"``: always)."""
    return {
        "datasets_fts_ai": f"AFTER INSERT ON datasets WHEN {guard} BEGIN {_FTS_INSERT} END",
        "datasets_fts_ad": f"AFTER DELETE ON datasets WHEN {guard} BEGIN {_FTS_DELETE} END",
        "datasets_fts_au": f"AFTER UPDATE OF {_COLUMNS} ON datasets WHEN {guard} "
        f"BEGIN {_FTS_DELETE} {_FTS_INSERT} END",
        "datasets_words_ai": f"AFTER INSERT ON datasets WHEN {guard} BEGIN "
        + _SQLITE_DELTA.format(rows=_SQLITE_NEW)
        + " END",
        "datasets_words_ad": f"AFTER DELETE ON datasets WHEN {guard} BEGIN "
        + _SQLITE_DELTA.format(rows=_SQLITE_OLD)
        + f" {_SQLITE_UNUSED} END",
        "datasets_words_au": "AFTER UPDATE OF search_words ON datasets "
        f"WHEN old.search_words IS NOT new.search_words AND {guard} BEGIN "
        + _SQLITE_DELTA.format(rows=f"{_SQLITE_NEW} UNION ALL {_SQLITE_OLD}")
        + f" {_SQLITE_UNUSED} END",
    }


def _replace(guard: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name, body in _triggers(guard).items():
        op.execute(f"DROP TRIGGER {name}")
        op.execute(f"CREATE TRIGGER {name} {body}")


def upgrade() -> None:
    """Guard the FTS5 and word-count triggers with the ``bulk_load`` row (SQLite)."""
    _replace(_NOT_BULK)


def downgrade() -> None:
    """The triggers as migrations 0008 and 0012 made them (no bulk load may be under way)."""
    _replace("1")
