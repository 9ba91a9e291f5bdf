"""The 10-minute multi-replica soak, with the capacity phase the operator guide sizes from.

    uv run python benchmarks/registry/bench_soak.py [--minutes 10] [--rate 40] [--datasets 1000]

Three registry processes (granian, one worker each) over one PostgreSQL database created for
the run, one redis-server of its own and one local store; first the capacity phase (each
endpoint alone on one replica: req/s per core, PostgreSQL round trips and Redis commands per
request), then the soak (a paced mixed load, keyless publishes, key revocations, one replica
killed and started again, Redis killed and started again). The driver is
``tests/registry/soak.py``, the same module the 60-second test (``tests/registry/test_soak.py``)
runs. Prints the report as Markdown (docs/benchmarks.md quotes it), writes it with the raw
numbers to ``benchmarks/.data/soak-<date>.{md,json}``; exit code 0 only if every criterion held.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # the repository root: the tests' soak driver

from tests.registry.soak import soak  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=40, help="API requests per second")
    parser.add_argument("--datasets", type=int, default=1000)
    parser.add_argument("--capacity-seconds", type=float, default=15, help="per endpoint; 0: none")
    parser.add_argument("--rss-margin", type=float, default=0.10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="soak-") as folder:
        report = soak(
            Path(folder),
            duration=args.minutes * 60,
            rate=args.rate,
            datasets=args.datasets,
            bucket=60,
            publish_every=5,
            revoke_every=20,
            rss_margin=args.rss_margin,
            capacity_seconds=args.capacity_seconds,
        )
    text = report.markdown()
    print(text)
    out = HERE.parents[1] / "benchmarks" / ".data"
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"soak-{time.strftime('%Y%m%dT%H%M', time.gmtime())}"
    stem.with_suffix(".md").write_text(text + "\n")
    raw = dataclasses.asdict(report)
    raw["failures"] = report.failures()
    stem.with_suffix(".json").write_text(json.dumps(raw, default=str) + "\n")
    print(f"\nwritten: {stem}.md, {stem}.json")
    return 0 if not report.failures() else 1


if __name__ == "__main__":
    sys.exit(main())
