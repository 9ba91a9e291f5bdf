"""Bulk loading an empty SQLite catalogue: the search index and word counts built once, at the end.

On SQLite, triggers keep the full-text index (``datasets_fts``, FTS5) and the counted
vocabulary (``search_vocabulary``) in step with every row written. Filling an empty catalogue
(a restore from the snapshot, a first sync) that way costs a third of SQLite's time at
100,000 datasets. While the ``sync_state`` row :data:`BULK_LOAD` exists, those triggers do
nothing (migration 0015); :func:`finish_bulk_load` then rebuilds both from the rows in one
transaction and deletes the row. The row is the checkpoint: a load that was interrupted leaves
it, and the next sync finishes it (whoever wrote meanwhile, the rebuild reads every row).

PostgreSQL indexes with a generated column and statement triggers, which cost no more in bulk:
there is nothing to set aside, and these functions do nothing.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import text

from opendata_registry.db.engine import SessionMaker, dialect_of

__all__ = ["BULK_LOAD", "begin_bulk_load", "bulk_loading", "finish_bulk_load"]

BULK_LOAD: Final = "bulk_load"
"""The ``sync_state`` row that turns the search triggers off (migration 0015 names it)."""

_REBUILD: Final = (
    "INSERT INTO datasets_fts(datasets_fts) VALUES ('rebuild')",
    "DELETE FROM search_vocabulary",
    "INSERT INTO search_vocabulary (word, datasets) SELECT w.value, count(*) "
    "FROM datasets AS d, json_each(d.search_words) AS w GROUP BY w.value",
    # Searches answered meanwhile were memoised under the counter's value (decision 0008).
    "UPDATE registry_generation SET value = value + 1 WHERE id = 1",
    f"DELETE FROM sync_state WHERE name = '{BULK_LOAD}'",  # noqa: S608 (a constant)
)


async def begin_bulk_load(sessions: SessionMaker) -> bool:
    """Turn the search triggers off until :func:`finish_bulk_load` (SQLite; idempotent).

    Returns whether a bulk load is now under way (``False`` on PostgreSQL).
    """
    if await dialect_of(sessions) != "sqlite":
        return False
    async with sessions() as session, session.begin():
        await session.execute(
            text("INSERT INTO sync_state (name, value) VALUES (:name, '') ON CONFLICT DO NOTHING"),
            {"name": BULK_LOAD},
        )
    return True


async def bulk_loading(sessions: SessionMaker) -> bool:
    """Whether a bulk load was begun and not finished (its triggers are off)."""
    if await dialect_of(sessions) != "sqlite":
        return False
    async with sessions() as session:
        found = await session.execute(
            text("SELECT 1 FROM sync_state WHERE name = :name"), {"name": BULK_LOAD}
        )
        return found.first() is not None


async def finish_bulk_load(sessions: SessionMaker) -> None:
    """Rebuild the full-text index and the word counts from every row; triggers on again."""
    if not await bulk_loading(sessions):
        return
    async with sessions() as session, session.begin():
        for statement in _REBUILD:
            await session.execute(text(statement))
