"""A streamed push holds a shard, not the dataset (issue 26): peak RSS measured in subprocesses.

The small version of ``benchmarks/bench_push_stream.py`` (whose 5 GB run is recorded in
docs/benchmarks.md): 200 MB of generated rows (25 year shards of 8 MB), published once from the
generator and once as one in-memory table, each in a fresh Python process that reports its
peak (``VmHWM``). Not timed: only memory is asserted, against the in-memory baseline of the
same run.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_push_stream.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_push_stream", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_push_stream", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/status (Linux)")
def test_a_streamed_push_peaks_far_below_the_in_memory_push(tmp_path: Path) -> None:
    bench = _bench()
    stream = bench.run("stream", 0.2, tmp_path)
    memory = bench.run("memory", 0.2, tmp_path)
    assert stream["rows"] == memory["rows"] == 4_166_666
    assert stream["shards"] == memory["shards"] == 25
    assert stream["stored_bytes"] == memory["stored_bytes"]  # the same shards
    # What each push added to the interpreter with its libraries loaded: the in-memory push
    # holds the 200 MB table several times over (measured: 942 MB), the stream one 8 MB shard
    # and one 24 MB batch at a time besides the allocators' working set (measured: 227 MB).
    grown_stream = stream["peak_rss"] - stream["idle_rss"]
    grown_memory = memory["peak_rss"] - memory["idle_rss"]
    assert grown_stream < 0.5 * grown_memory, (stream, memory)
    assert list(tmp_path.iterdir()) == []  # the stores and the spill files are gone
