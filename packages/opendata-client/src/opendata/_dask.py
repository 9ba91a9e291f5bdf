"""``od.to_dask``: a Dask DataFrame with one partition per shard, read as ``od.load`` reads.

The graph holds what each partition needs and nothing that expires: the store's options (a
folder, bucket or registry URL; no key, no signed link), the pinned version, the shard's entry
and the read plan. Each worker opens the store itself (its own client, its own signed links,
renewed when they expire) and reads its shard through :class:`~opendata._read.ShardPlan`, so
values, dtypes and verification are ``od.load``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opendata._filesystem import client_for, remote_options
from opendata._read import Pin, ShardPlan, _convert, _empty_table
from opendata._registry import RegistryTransport
from opendata_core.ids import DatasetId

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd
    import pyarrow as pa

    from opendata._client import Client
    from opendata_core.documents import Manifest, Shard

__all__ = ["to_dask"]


@dataclass(frozen=True)
class _Part:
    """One partition's task: where to read, which shard, and how."""

    options: dict[str, Any]
    publish_id: str
    """The version the graph is pinned to (a registry signs the shard for it)."""
    shard: Shard
    plan: ShardPlan
    schema: pa.Schema
    """The frame's Arrow schema: every partition is cast to it (as od.load casts its shards)."""
    index: str | None


def import_dask() -> Any:
    """dask.dataframe, or an ImportError naming the extra that installs it."""
    try:
        import dask.dataframe
    except ImportError as err:
        raise ImportError(
            "od.to_dask needs Dask, which is not installed: "
            "pip install 'opendata-client[dask]' (Dask with its DataFrame and distributed parts)"
        ) from err
    return dask.dataframe


def to_dask(
    client: Client,
    id: str | DatasetId,
    *,
    start: object,
    end: object,
    columns: Sequence[str] | None,
    filters: Any,
    version: Pin,
) -> dd.DataFrame:
    """:meth:`opendata.Client.to_dask`."""
    dask_dataframe = import_dask()
    import dask

    reader = client._reader
    ds, manifest, shards, bounds = reader.select_live(id, start, end, version)
    tc = manifest.time_column
    wanted = reader.check_columns(ds, manifest, columns)
    if wanted is not None and tc is not None and tc not in wanted:
        wanted = [tc, *wanted]  # the index
    plan = reader.plan(ds, manifest, bounds, wanted, filters)
    options = remote_options(client)
    shards = sorted(shards, key=lambda s: s.min or "") if tc is not None else list(shards)
    schema, exact = _schema(manifest, wanted)
    if not exact and shards:  # a type the manifest's text does not name: read one shard's
        schema = plan.read(reader, shards[0]).schema
    parts = [_Part(options, manifest.publish_id, s, plan, schema, tc) for s in shards]
    meta = _frame(schema.empty_table(), tc)
    frame: dd.DataFrame
    # Dask would turn text columns into its own pyarrow string dtype: keep od.load's.
    with dask.config.set({"dataframe.convert-string": False}):
        if not parts:
            frame = dask_dataframe.from_pandas(meta, npartitions=1)
            return frame
        frame = dask_dataframe.from_map(
            _read_part,
            parts,
            meta=meta,
            divisions=_divisions(shards, tc),
            label=f"opendata-{ds.name}",
            enforce_metadata=False,
        )
    return frame


def _schema(manifest: Manifest, columns: list[str] | None) -> tuple[pa.Schema, bool]:
    """The published schema (in ``columns`` when given), and whether every type parsed.

    A nested type's text does not parse: it becomes null, and the caller reads a shard instead.
    """
    import pyarrow as pa

    table = _empty_table(manifest)
    schema = (table.select(columns) if columns is not None else table).schema
    published = {f.name: f.type for f in manifest.schema}
    return schema, all(f.type != pa.null() or published[f.name] == "null" for f in schema)


def _frame(table: pa.Table, index: str | None) -> pd.DataFrame:
    frame: pd.DataFrame = _convert(table, "pandas")
    return frame.set_index(index) if index is not None else frame


def _divisions(shards: list[Shard], tc: str | None) -> tuple[Any, ...] | None:
    """Partition bounds from the shards' time bounds, when they are known and do not overlap.

    Shards split on the time column never overlap: each shard's smallest time is a lower bound
    of its partition, and the last shard's largest time closes the last one.
    """
    import pandas as pd

    bounds = [(s.min, s.max) for s in shards]
    if tc is None or any(lo is None or hi is None for lo, hi in bounds):
        return None
    lows = [pd.Timestamp(lo) for lo, _ in bounds if lo is not None]
    highs = [pd.Timestamp(hi) for _, hi in bounds if hi is not None]
    if any(highs[i] >= lows[i + 1] for i in range(len(shards) - 1)):
        return None
    return (*lows, highs[-1])


def _read_part(part: _Part) -> pd.DataFrame:
    """A worker's partition: its own client for the store, the shard read as od.load reads it."""
    client = client_for(**part.options)
    if isinstance(client.store, RegistryTransport):  # signed for the pinned version, not today's
        client.store.pin(part.plan.ds, part.publish_id, [part.shard])
    table = part.plan.read(client._reader, part.shard)
    if table.schema != part.schema:
        table = table.cast(part.schema)
    return _frame(table, part.index)
