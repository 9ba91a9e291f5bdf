"""Schema hashes survive the Parquet round trip, so the schema-drift gate applies to appends.

A column's type as pushed and the same column read back from its shard (which is what the next
append is fitted to) must describe one schema: ``dictionary<values=large_string>`` (a pandas 3
categorical) comes back as ``dictionary<values=string>``, ``timestamp[s]`` as ``timestamp[ms]``,
list items as ``element``. Had the first publish hashed the pushed types, the append below would
be refused by the gate as a retyped column.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import opendata as od
from opendata_core.errors import SchemaMismatch

DS = "me/kinds"


def dates(start: int, days: int) -> pa.Array:
    return pa.array(pd.date_range(f"2024-01-{start:02d}", periods=days, freq="D").date)


def arrow_of(kind: pa.DataType | None) -> Callable[[int, int], Any]:
    def make(start: int, days: int) -> pa.Table:
        values = pa.array([f"v{i % 3}" for i in range(days)], pa.string())
        column = values.cast(kind) if kind is not None else values
        return pa.table({"date": dates(start, days), "col": column})

    return make


def categorical(start: int, days: int) -> pd.DataFrame:
    days_ = pd.date_range(f"2024-01-{start:02d}", periods=days, freq="D")
    return pd.DataFrame(
        {"date": days_.date, "col": pd.Categorical([f"v{i % 3}" for i in range(days)])}
    )


def pandas_str(start: int, days: int) -> pd.DataFrame:
    days_ = pd.date_range(f"2024-01-{start:02d}", periods=days, freq="D")
    return pd.DataFrame({"date": days_.date, "col": [f"v{i % 3}" for i in range(days)]})


def seconds(start: int, days: int) -> pa.Table:
    stamps = pd.date_range(f"2024-01-{start:02d}", periods=days, freq="D")
    return pa.table(
        {"date": dates(start, days), "col": pa.array(stamps, pa.timestamp("s", tz="UTC"))}
    )


def lists(start: int, days: int) -> pa.Table:
    col = pa.array([[i] for i in range(days)], pa.large_list(pa.int64()))
    return pa.table({"date": dates(start, days), "col": col})


KINDS: dict[str, Callable[[int, int], Any]] = {
    "string": arrow_of(None),
    "large_string": arrow_of(pa.large_string()),
    "dictionary<string>": arrow_of(pa.dictionary(pa.int32(), pa.string())),
    "dictionary<large_string>": arrow_of(pa.dictionary(pa.int32(), pa.large_string())),
    "pandas categorical": categorical,
    "pandas str": pandas_str,
    "timestamp[s]": seconds,
    "large_list": lists,
}


@pytest.fixture
def client(tmp_path: Path) -> od.Client:
    return od.Client(store=tmp_path / "store")


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_type_hashes_the_same_after_the_parquet_round_trip(client: od.Client, kind: str) -> None:
    make = KINDS[kind]
    first = client.push(make(1, 5), DS, time_column="date", partition="day")
    # The frame as loaded back hashes as the one pushed: a replace with it is "unchanged".
    again = client.push(client.load(DS, format="arrow"), DS, time_column="date", partition="day")
    assert again.schema_hash == first.schema_hash and not again.schema_changed
    # An append of the same logical schema passes the gate without --allow-schema-change.
    appended = client.push(make(6, 1), DS, mode="append")
    assert appended.schema_hash == first.schema_hash, (first.schema, appended.schema)
    assert not appended.schema_changed
    assert (appended.shards_written, appended.shards_reused) == (1, 5)
    assert client.manifest(DS).schema_hash == first.schema_hash
    assert client.load(DS, format="arrow").num_rows == 6


def test_an_append_that_adds_a_column_is_refused_and_changes_nothing(client: od.Client) -> None:
    client.push(pandas_str(1, 3), DS, time_column="date")
    live = client.manifest(DS).publish_id
    extra = pandas_str(4, 1).assign(source="ecb")
    for allow in (False, True):  # appended rows cannot bring a column the old shards lack
        with pytest.raises(SchemaMismatch, match="source") as err:
            client.push(extra, DS, mode="append", allow_schema_change=allow)
        assert err.value.column == "source"
    assert client.manifest(DS).publish_id == live


def test_the_gate_refuses_an_append_whose_published_schema_hash_is_not_its_own(
    client: od.Client, tmp_path: Path
) -> None:
    """Appends pass the gate, not around it: a parent whose hash disagrees is refused."""
    import msgspec

    from opendata_core.documents import Manifest, encode_document, schema_hash

    client.push(pandas_str(1, 3), DS, time_column="date")
    key = tmp_path / "store" / "datasets" / DS / "manifest.json"
    manifest = msgspec.json.decode(key.read_bytes(), type=Manifest)
    # A manifest written by an older client, which hashed the types before the round trip: its
    # string column has the other width (pandas 3 frames give large_string, pandas 2 string).
    other = {"large_string": "string", "string": "large_string"}
    old = [msgspec.structs.replace(f, type=other.get(f.type, f.type)) for f in manifest.schema]
    assert old != manifest.schema
    stale = msgspec.structs.replace(manifest, schema=old, schema_hash=schema_hash(old))
    key.write_bytes(encode_document(stale))
    with pytest.raises(SchemaMismatch, match="col") as err:
        client.push(pandas_str(4, 1), DS, mode="append")
    assert "allow-schema-change" in (err.value.hint or "")
    assert client.manifest(DS).publish_id == manifest.publish_id
    done = client.push(pandas_str(4, 1), DS, mode="append", allow_schema_change=True)
    assert done.schema_changed
