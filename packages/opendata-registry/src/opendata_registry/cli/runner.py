"""What every ``opendata-registry`` command that works on the database runs its work with."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from opendata_registry.infra.settings import Settings

__all__ = ["run_with_registry"]

T = TypeVar("T")


def run_with_registry(work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(registry)`` on a migrated database, then close it."""
    from opendata_registry.context import Registry

    async def go() -> T:
        registry = Registry(Settings.from_env())
        try:
            await registry.migrate()
            return await work(registry)
        finally:
            await registry.engine.dispose()

    return asyncio.run(go())
