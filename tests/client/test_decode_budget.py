"""The decode budget (issue 21 §1): every bomb of the generated corpus (tests/bombs.py: every
encoding x nesting x codec pyarrow writes) is refused at load, with peak RSS within the budget
plus the stated margin (measured in a subprocess); honest shards of the same layouts load."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import opendata as od
from opendata_core import DatasetId
from opendata_core.decoding import decode_limit, target_batch_bytes
from opendata_core.documents import Manifest, Shard, encode_document, schema_hash
from tests.bombs import BUDGET, CODECS, ENCODINGS, NESTINGS, Case

MARGIN = target_batch_bytes(BUDGET) + (8 << 20)
"""The stated margin over the budget (decision 0007): one batch, plus 8 MiB for what is
allocated beside the batches whatever the budget: the codec's working memory (brotli measured up
to ~3.7 MB), decompressed pages and allocator slack. A refused load also holds the shard's own
bytes (it is verified whole). Not included: what a process allocates once, on its first decode of
a codec or of dictionary pages (~12-25 MB measured); the probe warms those up first."""

PROBE = Path(__file__).with_name("_decode_probe.py")


def put_shard(
    client: od.Client, ds: DatasetId, payload: bytes, rows: int, *, blocks: bool = False
) -> None:
    """Put one shard and a correct manifest straight into the store (as a hostile producer)."""
    from opendata._arrow import schema_fields
    from opendata._parquet_layout import shard_blocks

    digest = hashlib.sha256(payload).hexdigest()
    client.store.put(client.layout.shard(ds, digest), payload)
    shard = Shard(
        path=f"parts/{digest}.parquet",
        sha256=digest,
        rows=rows,
        bytes=len(payload),
        partition="all",
        blocks=shard_blocks(payload, min_bytes=0) if blocks else [],
    )
    fields = schema_fields(pq.read_schema(io.BytesIO(payload)))
    manifest = Manifest(
        dataset_id=str(ds),
        publish_id="20250101T000000Z-bomb",
        published_at=pd.Timestamp("2025-01-01", tz="UTC").to_pydatetime(),
        schema=fields,
        schema_hash=schema_hash(fields),
        row_count=rows,
        bytes=len(payload),
        shards=[shard],
    )
    client.store.put(client.layout.manifest(ds), encode_document(manifest))


def dataset(case: Case) -> DatasetId:
    return DatasetId.parse(f"bomb/{case.name}")


def test_the_corpus_is_what_it_claims(bomb_corpus: list[Case]) -> None:
    """Each file uses the encoding and codec it is named for, and bombs decode past the budget."""
    seen = set()
    for case in bomb_corpus:
        meta = pq.read_metadata(case.path)
        encodings: set[str] = set()
        codecs = set()
        for c in range(meta.num_columns):
            col = meta.row_group(0).column(c)
            encodings.update(col.encodings)
            codecs.add(col.compression)
        assert case.encoding in encodings, (case.name, encodings)
        assert codecs == {"UNCOMPRESSED" if case.codec == "none" else case.codec.upper()}, codecs
        assert (case.decoded > BUDGET) == case.bomb
        seen.add((case.encoding, case.nesting, case.codec, case.bomb))
    assert len(seen) == len(ENCODINGS) * len(NESTINGS) * len(CODECS) * 2
    worst = max(c.decoded / c.path.stat().st_size for c in bomb_corpus)
    assert worst > 1000  # real bombs among them, not only big files


def test_every_bomb_is_refused_at_load_within_the_budget(
    bomb_corpus: list[Case], tmp_path: Path
) -> None:
    """Local store, whole-shard loads in a fresh process: each bomb refused with the message
    naming the shard, the bytes decoded and the limit; peak RSS ≤ shard + budget + margin;
    each honest twin loads every row."""
    store = tmp_path / "store"
    client = od.Client(store=store, cache=False)
    by_id = {}
    for case in bomb_corpus:
        put_shard(client, dataset(case), case.path.read_bytes(), case.rows)
        by_id[str(dataset(case))] = case
    # First loads warm up what a process allocates once (lazy imports, pyarrow's thread pools,
    # the first use of a codec or of dictionary decoding: up to ~12-25 MB measured): an honest
    # shard of each codec and of each encoding.
    warm = [next(c for c in bomb_corpus if not c.bomb and c.codec == codec) for codec in CODECS]
    warm += [next(c for c in bomb_corpus if not c.bomb and c.encoding == e) for e in ENCODINGS]
    ids = [*(str(dataset(c)) for c in warm), *by_id]
    env = {**os.environ, "OPENDATA_MAX_DECODE_BYTES": str(BUDGET), "OPENDATA_CACHE": "0"}
    run = subprocess.run(
        [sys.executable, str(PROBE), str(store), json.dumps(ids)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = [json.loads(line) for line in run.stdout.splitlines()][len(warm) :]
    assert len(results) == len(by_id)
    peaks = []
    for got in results:
        case = by_id[got["id"]]
        stored = case.path.stat().st_size
        if case.bomb:
            assert "error" in got, f"{case.name} loaded {got.get('rows')} rows"
            limit = decode_limit(stored, BUDGET)
            assert "exceeds OPENDATA_MAX_DECODE_BYTES: " in got["error"], got["error"]
            assert f"more than the {limit:,} allowed" in got["error"]
            assert "/parts/" in got["error"] and "raise OPENDATA_MAX_DECODE_BYTES" in got["error"]
            assert got["peak"] <= stored + BUDGET + MARGIN, (case.name, got["peak"])
            peaks.append((got["peak"] - stored, case.name))
        else:
            assert got.get("rows") == case.rows, (case.name, got)
    print("largest peak RSS over the shard's bytes:", sorted(peaks)[-5:])


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_bombs_in_a_moto_bucket_are_refused(
    bomb_corpus: list[Case], s3_client: od.Client, encoding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over real HTTP (moto): one bomb per encoding and its honest twin, load and scan."""
    monkeypatch.setenv("OPENDATA_MAX_DECODE_BYTES", str(BUDGET))
    client = od.Client(store=s3_client.store, cache=False)
    pick = [c for c in bomb_corpus if c.encoding == encoding and c.codec == "zstd"]
    for case in pick:
        if case.nesting not in ("list", "map"):
            continue
        ds = dataset(case)
        put_shard(client, ds, case.path.read_bytes(), case.rows)
        if case.bomb:
            with pytest.raises(od.CorruptDataError, match="exceeds OPENDATA_MAX_DECODE_BYTES"):
                client.load(str(ds))
            with pytest.raises(od.CorruptDataError, match="exceeds OPENDATA_MAX_DECODE_BYTES"):
                client.scan(str(ds)).collect()
        else:
            assert client.load(str(ds), format="arrow").num_rows == case.rows


def _two_columns(bomb: bool) -> tuple[bytes, int]:
    """A DELTA_BYTE_ARRAY list<string> column ``v`` next to a large incompressible ``pad``."""
    rows = 3_000 if bomb else 30
    v = pa.array([["y" * 2000] * 8] * rows, pa.list_(pa.string()))
    pad = pa.array([os.urandom(200) for _ in range(rows)], pa.binary())
    sink = io.BytesIO()
    pq.write_table(
        pa.table({"v": v, "pad": pad}),
        sink,
        use_dictionary=False,
        column_encoding={"v.list.element": "DELTA_BYTE_ARRAY", "pad": "PLAIN"},
        compression="zstd",
    )
    return sink.getvalue(), rows


def test_the_ranged_path_uses_the_same_bounded_decode(
    client: od.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A format-1.1 shard read by ranges (one column): the bomb column is refused, the honest
    one loads; the ranged path was taken (it fetched fewer bytes than the shard)."""
    from opendata import _ranged

    monkeypatch.setenv("OPENDATA_MAX_DECODE_BYTES", str(BUDGET))
    reader = od.Client(store=client.store, prefix=client.layout.prefix, cache=False)
    taken: list[Any] = []
    real = _ranged.read_ranged

    def spy(*args: Any, **kw: Any) -> Any:
        out = real(*args, **kw)
        taken.append(out is not None)
        return out

    monkeypatch.setattr(_ranged, "read_ranged", spy)
    for bomb in (False, True):
        payload, rows = _two_columns(bomb)
        ds = DatasetId.parse(f"me/ranged-{bomb}".lower())
        put_shard(reader, ds, payload, rows, blocks=True)
        if bomb:
            with pytest.raises(od.CorruptDataError, match="exceeds OPENDATA_MAX_DECODE_BYTES"):
                reader.load(str(ds), columns=["v"])
        else:
            got = reader.load(str(ds), columns=["v"], format="arrow")
            assert got.num_rows == rows and got.column_names == ["v"]
        # the pad column was not fetched: the ranged path ran (or raised) for this shard
    assert taken[0] is True


def test_filters_and_columns_still_work_under_the_budget(client: od.Client) -> None:
    """Column selection and filters over a shard of several row groups give what pyarrow gives."""
    n = 50_000
    table = pa.table({"k": pa.array(range(n)), "s": pa.array([f"s{i % 97}" for i in range(n)])})
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=8_000)
    ds = DatasetId.parse("me/filtered")
    put_shard(client, ds, sink.getvalue(), n)
    got = client.load(str(ds), columns=["s"], filters=[("k", ">=", 45_000)], format="arrow")
    assert got.column_names == ["s"] and got.num_rows == 5_000
    assert got.column("s").to_pylist() == table.slice(45_000).column("s").to_pylist()
    assert client.load(str(ds), format="arrow").equals(table)
