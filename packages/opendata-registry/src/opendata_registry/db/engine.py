"""The database engine (SQLite by default, PostgreSQL for replicas) and migrations at start."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Final

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from opendata_core.errors import OpenDataError

__all__ = ["SessionMaker", "create_engine", "dialect_of", "migrate", "session_factory"]

SessionMaker = Callable[[], AsyncSession]
"""What opens a database session (``async with sessions() as session``)."""

_MIGRATIONS = Path(__file__).parent / "migrations"
_SCHEMA_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_PG_SETTINGS: Final = {"random_page_cost": "1.1", "plan_cache_mode": "force_custom_plan"}
"""Session settings for the registry's PostgreSQL connections.

* ``random_page_cost = 1.1``: the catalogue's working set is in memory, where a random page
  costs about what a sequential one does (PostgreSQL's manual suggests lowering the default 4.0
  for cached or SSD-backed data); with the default, the planner answered a word matching 5 % of
  100,000 datasets by scanning every text vector (68 ms) instead of the GIN index (20 ms).
* ``plan_cache_mode = force_custom_plan``: asyncpg prepares every statement, and after five
  runs PostgreSQL may keep one generic plan that does not know the words; a word in 60 % of
  the catalogue was then ranked without parallel workers (135 ms instead of 61 ms). How many
  datasets a word matches varies from one to all, so each search is planned for its words
  (planning costs well under a millisecond).
"""


def create_engine(url: str, *, schema: str | None = None) -> AsyncEngine:
    """An async engine for ``url``; ``schema`` (PostgreSQL) puts every table in that schema.

    SQLite gets WAL mode and a busy timeout, so several server workers share the file;
    PostgreSQL sessions get :data:`_PG_SETTINGS`.
    """
    try:
        parsed = make_url(url)
    except Exception:
        raise OpenDataError(
            "OPENDATA_REGISTRY_DATABASE_URL is not a database URL",
            hint="e.g. sqlite+aiosqlite:///path/registry.db or postgresql+asyncpg://host/db",
        ) from None
    kwargs: dict[str, Any] = {}
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    elif backend == "postgresql":
        kwargs["pool_pre_ping"] = True
        server_settings = dict(_PG_SETTINGS)
        if schema:
            if not _SCHEMA_RE.fullmatch(schema):
                raise OpenDataError(
                    f"database schema {schema!r} must be lower-case letters, digits and '_'"
                )
            server_settings["search_path"] = schema
        kwargs["connect_args"] = {"server_settings": server_settings}
    else:
        raise OpenDataError(
            f"unsupported database {backend!r} in OPENDATA_REGISTRY_DATABASE_URL",
            hint="use sqlite+aiosqlite:///… (embedded) or postgresql+asyncpg://… (replicas)",
        )
    engine = create_async_engine(parsed, **kwargs)
    if backend == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        # Many rows in one INSERT … VALUES statement (1,000 a page), as SQLAlchemy does for an
        # INSERT with RETURNING, not the driver's executemany: that binds and steps each row on
        # aiosqlite's thread, and every step gives the GIL up and waits to take it back, up to
        # a switch interval (5 ms) while the event loop runs Python. A bulk sync's 300,000
        # tag rows took 14.5 s that way beside the reader, 1.5 s in pages (docs/benchmarks.md).
        engine.dialect.use_insertmanyvalues_wo_returning = True
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # A new database only (an existing one keeps its page size): a dataset's row holds its
    # ~20 KB metadata document, which 16 KiB pages store in two pages instead of six.
    cursor.execute("PRAGMA page_size=16384")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


async def dialect_of(sessions: SessionMaker) -> str:
    """The database ``sessions`` open: ``"sqlite"`` or ``"postgresql"`` (no connection made)."""
    async with sessions() as session:
        return session.get_bind().dialect.name


def session_factory(engine: AsyncEngine) -> async_sessionmaker[Any]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def migrate(engine: AsyncEngine, *, schema: str | None = None) -> None:
    """Bring the database to the newest revision (idempotent; safe with several replicas).

    Workers and replicas that start together take turns: an advisory lock on PostgreSQL, a lock
    file beside the SQLite file (its driver runs DDL outside transactions, so two workers would
    otherwise both create the first tables).
    """
    if schema and engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    async with _sqlite_lock(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        await conn.run_sync(_upgrade)


_MIGRATION_LOCK: Final = 0x0D_4E61_7E  # any constant the registry alone uses


@contextlib.asynccontextmanager
async def _sqlite_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with Path(f"{database}.migrate.lock").open("a") as fh:
        await asyncio.to_thread(fcntl.flock, fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _upgrade(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
