"""One file of a dataset's rows as CSV or Parquet, made by the registry from the shards.

A download answer (:class:`~opendata_core.api.DownloadResponse`) carries, next to the signed
shard URLs, signed URLs of ``GET /v1/datasets/{ns}/{name}/export.csv`` and ``export.parquet``
for exactly the same version and ``[start, end]``: the bytes were counted against the caller's
budget when the download was answered, so the export route only checks the signature (like
``/files``). The link binds the dataset, the version's ``publish_id``, the range and the format.

The export reads each shard from the store, checks its sha256, decodes it within core's bound
(:func:`~opendata_core.decoding.decode_parquet`), keeps the rows inside the range and writes
them: CSV is streamed shard by shard, every text cell a spreadsheet would run as a formula
prefixed with ``'`` (:func:`~opendata_core.tables.csv_chunks`, the bytes ``od get -o x.csv``
writes); Parquet is written whole (zstd). A selection of more than ``export_max_bytes`` of
Parquet (``OPENDATA_REGISTRY_EXPORT_MAX_BYTES``, 64 MiB by default) gets no link, and the
answer's ``export_refused`` says why and what to do instead.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import quote, urlencode

import anyio

from opendata_core.api import API_VERSION
from opendata_core.documents import Manifest, Shard
from opendata_core.errors import CorruptDataError, OpenDataError, PermissionDenied
from opendata_core.ids import DatasetId
from opendata_core.timerange import TimeRange, select_range
from opendata_registry.infra.settings import Settings
from opendata_registry.infra.signing import UrlSigner
from opendata_registry.infra.store import RegistryStore

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "EXPORT_FORMATS",
    "ExportFormat",
    "Selection",
    "csv_bytes",
    "csv_header",
    "export_links",
    "export_refusal",
    "open_export",
    "parquet_file",
    "tables",
]

ExportFormat = Literal["csv", "parquet"]
EXPORT_FORMATS: Final[dict[ExportFormat, str]] = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def export_refusal(dataset_id: str, stored: int, settings: Settings) -> str | None:
    """Why a selection of ``stored`` Parquet bytes gets no export link (``None``: it does)."""
    limit = settings.export_max_bytes
    if limit <= 0:
        return (
            "this registry makes no CSV or Parquet exports (OPENDATA_REGISTRY_EXPORT_MAX_BYTES"
            "=0): download the Parquet files"
        )
    if stored <= limit:
        return None
    return (
        f"{dataset_id}: the rows asked for are {_mb(stored)} of Parquet, more than the "
        f"{_mb(limit)} this registry turns into one CSV or Parquet file; choose a shorter "
        f"time range, download the Parquet files, or run `od get {dataset_id} --start … "
        f"--end … -o file.csv`"
    )


def _key(fmt: str, manifest: Manifest, start: str | None, end: str | None) -> str:
    """What an export link's signature binds: format, dataset, version and range."""
    query = urlencode({"start": start or "", "end": end or ""})
    return f"export.{fmt}/{manifest.dataset_id}/{manifest.publish_id}?{query}"


def export_links(
    signer: UrlSigner,
    root: str,
    manifest: Manifest,
    start: str | None,
    end: str | None,
    expires: int,
) -> dict[str, str]:
    """Signed URLs of the export route for this version and range, by format."""
    ns, _, name = manifest.dataset_id.partition("/")
    links: dict[str, str] = {}
    for fmt in EXPORT_FORMATS:
        params = {"version": manifest.publish_id, "expires": str(expires)}
        if start is not None:
            params["start"] = start
        if end is not None:
            params["end"] = end
        params["signature"] = signer.signature(_key(fmt, manifest, start, end), expires=expires)
        path = f"/{API_VERSION}/datasets/{quote(ns, safe='')}/{quote(name, safe='')}/export.{fmt}"
        links[fmt] = f"{root}{path}?{urlencode(params)}"
    return links


@dataclass(frozen=True)
class Selection:
    """The shards of one export, their keys in the store, and the range to keep."""

    ds: DatasetId
    manifest: Manifest
    time_range: TimeRange
    shards: Sequence[Shard]
    keys: Sequence[str]
    start: str | None = None
    end: str | None = None

    @property
    def filename(self) -> str:
        """``ns__name[_from-<start>][_to-<end>]`` (without the suffix), safe in a header."""
        name = str(self.ds).replace("/", "__")
        for label, value in (("from", self.start), ("to", self.end)):
            if value:
                name += f"_{label}-" + re.sub(r"[^0-9A-Za-z-]+", "", value)[:40]
        return name


def open_export(
    signer: UrlSigner,
    store: RegistryStore,
    settings: Settings,
    manifest: Manifest,
    fmt: ExportFormat,
    *,
    start: str | None,
    end: str | None,
    expires: str | None,
    signature: str | None,
) -> Selection:
    """The selection a signed export link names (``PermissionDenied`` if the link is not valid)."""
    if not signer.verify("GET", _key(fmt, manifest, start, end), expires, signature):
        raise PermissionDenied(
            "this export link is not valid for this dataset, version and range, or it has "
            "expired; ask for a new one (POST /v1/datasets/{ns}/{name}/download, or reload "
            "the portal's download page)"
        )
    ds = DatasetId.parse(manifest.dataset_id)
    try:
        time_range, shards = select_range(manifest, start, end)
    except OpenDataError:
        raise
    except ValueError as exc:
        raise OpenDataError(str(exc)) from None
    refused = export_refusal(str(ds), sum(s.bytes for s in shards), settings)
    if refused:
        raise OpenDataError(refused)
    keys = [store.layout.resolve(ds, s.path) for s in shards]
    return Selection(ds, manifest, time_range, shards, keys, start, end)


def _decode(
    settings: Settings, selection: Selection, shard: Shard, key: str, data: bytes
) -> pa.Table:
    """One shard's rows inside the range, from bytes whose sha256 was checked."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from opendata_core.decoding import DecodeRefused, decode_limit, decode_parquet
    from opendata_core.tables import range_expression

    tr, column = selection.time_range, selection.manifest.time_column
    expression: Any = None
    if column is not None and not tr.contains(shard.min, shard.max):
        dtype = pq.read_schema(pa.BufferReader(data)).field(column).type
        expression = range_expression(tr, column, dtype)
    s = settings
    limit = decode_limit(len(data), s.max_decode_bytes, floor=s.decode_floor, ratio=s.decode_ratio)
    try:
        out = decode_parquet(
            data,
            name=key,
            limit=limit,
            setting="OPENDATA_REGISTRY_MAX_DECODE_BYTES",
            filter=expression,
        )
    except DecodeRefused as exc:
        raise CorruptDataError(str(selection.ds), key, exc.detail) from None
    assert out.table is not None  # keep=True
    return out.table


async def tables(
    store: RegistryStore, settings: Settings, selection: Selection
) -> AsyncIterator[pa.Table]:
    """The selection's rows, shard by shard, each checked against its sha256."""
    for shard, key in zip(selection.shards, selection.keys, strict=True):
        data, _ = await store.get(key)
        if hashlib.sha256(data).hexdigest() != shard.sha256:
            raise CorruptDataError(
                str(selection.ds), key, "its bytes do not match the manifest's sha256"
            )
        yield await anyio.to_thread.run_sync(_decode, settings, selection, shard, key, data)


def csv_bytes(table: pa.Table, header: bool) -> bytes:
    """One table as formula-escaped CSV (with the header line or without)."""
    from opendata_core.tables import csv_chunks

    return b"".join(csv_chunks([table], table.schema, header=header))


def _schema(manifest: Manifest) -> pa.Schema:
    """The manifest's columns (for an export without rows; every type named as text)."""
    import pyarrow as pa

    return pa.schema([pa.field(f.name, pa.string()) for f in manifest.schema])


def csv_header(manifest: Manifest) -> bytes:
    """The header line alone (an export of no shard)."""
    from opendata_core.tables import csv_chunks

    return b"".join(csv_chunks([], _schema(manifest)))


async def parquet_file(parts: AsyncIterator[pa.Table], manifest: Manifest) -> bytes:
    """The tables as one Parquet file (zstd), written shard by shard.

    Only the file being written is held (about the stored size of the selection, which
    ``export_max_bytes`` bounds), never every decoded shard at once.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    writer: pq.ParquetWriter | None = None
    async for table in parts:
        if writer is None:
            writer = pq.ParquetWriter(sink, table.schema, compression="zstd")
        await anyio.to_thread.run_sync(writer.write_table, table)
    if writer is None:
        pq.write_table(_schema(manifest).empty_table(), sink, compression="zstd")
    else:
        writer.close()
    return bytes(sink.getvalue().to_pybytes())
