"""The facet index's rebuild with lifecycle data (issue 24): withdrawn datasets and trust levels.

    uv run python benchmarks/registry/bench_facet_lifecycle.py [--datasets 100000] [--baseline FILE]

100,000 generated datasets (bench_registry.py's catalogue) in a SQLite file; 1 % withdrawn and
5 % trusted (levels spread, a tenth with a lapsed review date). The facet index is rebuilt
(``facets._build``) five times, alternating with ``--baseline``: a ``facets.py`` from before the
lifecycle (``git show 86fb7ef~1:packages/opendata-registry/src/opendata_registry/domain/catalogue/
facets.py > /tmp/old_facets.py``), which reads the same tables without the lifecycle columns.
Prints the median of each and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("baseline_facets", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


async def run(n: int, baseline: Path | None) -> None:
    from bench_registry import _rows
    from sqlalchemy import insert, update

    from opendata_registry.db.engine import create_engine, migrate, session_factory
    from opendata_registry.db.models import Dataset, DatasetTag
    from opendata_registry.domain.catalogue import facets

    tmp = Path(tempfile.mkdtemp())
    engine = create_engine(f"sqlite+aiosqlite:///{tmp / 'facets.db'}")
    await migrate(engine)
    sessions = session_factory(engine)
    rng = random.Random(42)
    datasets, tags, _ = _rows(n, rng)
    async with sessions() as session, session.begin():
        for i in range(0, n, 5000):
            await session.execute(insert(Dataset), datasets[i : i + 5000])
        for i in range(0, len(tags), 10000):
            await session.execute(insert(DatasetTag), tags[i : i + 10000])
        levels = ["verified-publisher", "verified-source", "audited"]
        for pk in rng.sample(range(1, n + 1), n // 20):
            lapsed = rng.random() < 0.1
            await session.execute(
                update(Dataset)
                .where(Dataset.pk == pk)
                .values(
                    trust=rng.choice(levels),
                    trust_review_by=date(2020, 1, 1) if lapsed else date(2099, 1, 1),
                )
            )
        for pk in rng.sample(range(1, n + 1), n // 100):
            await session.execute(
                update(Dataset).where(Dataset.pk == pk).values(status="withdrawn")
            )
    old = _module(baseline) if baseline else None
    times: dict[str, list[float]] = {"lifecycle": [], "baseline": []}
    for _ in range(5):
        for name, module in (("lifecycle", facets), ("baseline", old)):
            if module is None:
                continue
            async with sessions() as session:
                started = time.perf_counter()
                await module._build(session, 0)
                times[name].append(time.perf_counter() - started)
    await engine.dispose()
    new = statistics.median(times["lifecycle"])
    print(f"{n:,} datasets (1 % withdrawn, 5 % trusted), SQLite: facet index rebuild")
    print(f"  with lifecycle: median {new:.3f} s  {[round(t, 3) for t in times['lifecycle']]}")
    if times["baseline"]:
        base = statistics.median(times["baseline"])
        print(f"  baseline:       median {base:.3f} s  {[round(t, 3) for t in times['baseline']]}")
        print(f"  ratio: {new / base:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=int, default=100_000)
    parser.add_argument("--baseline", type=Path, help="a facets.py from before the lifecycle")
    args = parser.parse_args()
    asyncio.run(run(args.datasets, args.baseline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
