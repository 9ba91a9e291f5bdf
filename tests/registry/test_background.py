"""The registry's background loops (periodic sync, usage writes) and shutting down."""

from __future__ import annotations

import asyncio
from pathlib import Path

from opendata_registry.context import Registry
from opendata_registry.infra.settings import Settings


def test_stop_lets_background_work_in_progress_finish(tmp_path: Path, store_root: Path) -> None:
    """A sync or usage write under way when the server stops is finished, not cancelled.

    Cancelled inside a database call, it left a pooled connection half reset (SQLAlchemy logged
    "Exception during reset" with a CancelledError traceback at every such shutdown).
    """
    settings = Settings(
        home=tmp_path / "home",
        store=str(store_root),
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}",
        secret=b"x" * 32,
        sync_interval=0,
    )
    seen: list[str] = []

    async def go() -> None:
        registry = Registry(settings)
        await registry.start()
        started = asyncio.Event()

        async def work() -> None:
            seen.append("started")
            started.set()
            await asyncio.sleep(0.2)
            seen.append("finished")

        registry._every(lambda: 0.0, work, "test work failed")
        await started.wait()
        await registry.stop()

    asyncio.run(go())
    assert seen[:2] == ["started", "finished"]
    assert seen.count("started") == seen.count("finished")  # nothing began after stop
