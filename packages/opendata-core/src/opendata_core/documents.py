"""The JSON documents that travel between producer, store, registry, portal and consumer.

Every document carries a ``format`` version ``"MAJOR.MINOR"``. Readers ignore unknown fields (a
newer *minor* version only adds fields with defaults) and refuse a newer *major* version with
:class:`~opendata_core.errors.UnsupportedFormatVersion` ("upgrade opendata-client").

Example:
    >>> from opendata_core.documents import Field, schema_hash
    >>> schema_hash([Field(name="date", type="date32[day]", nullable=False)])[:12]
    '04a9d12f16cb'
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, NoReturn, TypeAlias, TypeVar

import msgspec

from opendata_core._types import Count
from opendata_core.errors import FormatError, UnsupportedFormatVersion, shorten
from opendata_core.metadata import DatasetMetadata, Partitioning
from opendata_core.profile import Profile

if TYPE_CHECKING:
    from opendata_core.lifecycle import Lifecycle

__all__ = [
    "FOOTER_TAIL",
    "FORMAT_VERSION",
    "Block",
    "Count",
    "DatasetStatus",
    "ErrorClass",
    "Field",
    "Index",
    "IndexEntry",
    "Manifest",
    "MetadataDocument",
    "MetadataHead",
    "Partitioning",
    "Provenance",
    "RunRecord",
    "SchemaDiff",
    "Sha256Hex",
    "Shard",
    "Stats",
    "TrustLevel",
    "check_manifest",
    "decode_document",
    "diff_schemas",
    "encode_document",
    "json_decoder",
    "schema_gate",
    "schema_hash",
]

FORMAT_VERSION: Final = "1.1"
"""The format version this library writes; it reads any ``1.x``."""

ErrorClass = Literal["network", "parse", "validation", "upload", "permission", "unknown"]
"""Why a producer run failed."""

DatasetStatus: TypeAlias = Literal["active", "deprecated", "moved", "withdrawn"]
"""Where a dataset is in its lifecycle; the meanings and transitions are in
:mod:`opendata_core.lifecycle` (spec §10)."""
TrustLevel: TypeAlias = Literal["none", "verified-publisher", "verified-source", "audited"]
"""How far a registry's operators trust a dataset, lowest first; meanings in
:mod:`opendata_core.lifecycle` (spec §10.1)."""

# Constraints checked while decoding, so a bad document is refused with its JSON path
# (``$.stats.row_count``). Shards are checked as a whole by check_manifest, with its own messages.
Sha256Hex: TypeAlias = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]
"""64 lower-case hex digits."""


class _Document(msgspec.Struct, kw_only=True):
    format: str = FORMAT_VERSION


class Field(msgspec.Struct, kw_only=True, frozen=True):
    """One column: its name, Arrow type (as ``str(pyarrow.DataType)``) and nullability."""

    name: str
    type: str
    nullable: bool = True


def schema_hash(fields: Sequence[Field]) -> str:
    """A stable hash of a schema: sha256 hex of its canonical JSON form.

    The canonical form is a JSON array with one ``[name, type, nullable]`` array per column, in
    column order, encoded as UTF-8 with no whitespace, e.g. ``[["date","date32[day]",false]]``.
    It changes when a column is added, removed, renamed, re-typed, re-ordered, or changes
    nullability, and does not depend on pyarrow.
    """
    canonical = msgspec.json.encode([[f.name, f.type, f.nullable] for f in fields])
    return hashlib.sha256(canonical).hexdigest()


class Block(msgspec.Struct, array_like=True, frozen=True):
    """A run of bytes of a shard and its SHA-256, written ``[length, "sha256"]`` (format 1.1).

    A shard's blocks follow each other from offset 0 and cover it exactly; the last one is the
    Parquet footer (from the start of the file metadata to the end of the file). Writers cut
    blocks at column-chunk boundaries, so a reader fetching whole column chunks can verify every
    byte it decodes without reading anything else (decision 0004).
    """

    length: int
    sha256: str


class Shard(msgspec.Struct, kw_only=True, frozen=True):
    """One immutable Parquet file of a dataset version."""

    path: str
    """Key relative to the dataset folder: ``parts/<sha256>.parquet``."""
    sha256: str
    rows: int
    bytes: int
    partition: str
    """Partition label: ``"2024"``, ``"2024-03"``, ``"2024-03-01"`` or ``"all"``."""
    min: str | None = None
    """Smallest value of the time column in this shard (ISO 8601), if any."""
    max: str | None = None
    null_counts: dict[str, Count] = {}
    """Null values per column (columns without nulls may be left out)."""
    blocks: list[Block] = []
    """Format 1.1: the shard cut into verified blocks, the footer last; empty for shards written
    before 1.1, which readers fetch whole."""


class SchemaDiff(msgspec.Struct, kw_only=True, frozen=True):
    """How a schema changed between two publishes (see :func:`diff_schemas`)."""

    added: list[str] = []
    removed: list[str] = []
    retyped: list[tuple[str, str, str]] = []
    """``(column, old type, new type)``; a nullability change counts as a retype."""
    reordered: bool = False

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.retyped or self.reordered)

    def __str__(self) -> str:
        parts = []
        if self.added:
            parts.append("added " + ", ".join(self.added))
        if self.removed:
            parts.append("removed " + ", ".join(self.removed))
        if self.retyped:
            parts.append("retyped " + ", ".join(f"{c} ({a} -> {b})" for c, a, b in self.retyped))
        if self.reordered:
            parts.append("columns reordered")
        return "; ".join(parts) or "no change"


def diff_schemas(old: Sequence[Field], new: Sequence[Field]) -> SchemaDiff:
    """What changed from ``old`` to ``new``: added, removed and retyped columns.

    Example:
        >>> a = [Field(name="date", type="date32[day]"), Field(name="x", type="int64")]
        >>> b = [Field(name="date", type="date32[day]"), Field(name="x", type="double")]
        >>> str(diff_schemas(a, b))
        'retyped x (int64 -> double)'
    """

    def kind(f: Field) -> str:
        return f.type if f.nullable else f"{f.type} not null"

    before = {f.name: f for f in old}
    after = {f.name: f for f in new}
    common = [f.name for f in new if f.name in before]
    return SchemaDiff(
        added=[f.name for f in new if f.name not in before],
        removed=[f.name for f in old if f.name not in after],
        retyped=[
            (n, kind(before[n]), kind(after[n]))
            for n in common
            if kind(before[n]) != kind(after[n])
        ],
        reordered=[f.name for f in old if f.name in after] != common,
    )


def schema_gate(dataset_id: str, parent: Manifest | None, new: Manifest, *, allow: bool) -> bool:
    """The schema-drift gate: whether ``new`` changes the schema of ``parent`` (its publish).

    A change is refused unless ``allow`` (``od run --allow-schema-change``, a commit's
    ``schema_change: allow``); the error names the added, removed and retyped columns.

    Raises:
        SchemaMismatch: the schema changed and ``allow`` is false.

    Example:
        >>> schema_gate("a/b", None, None, allow=False)  # type: ignore[arg-type]
        False
    """
    from opendata_core.errors import SchemaMismatch

    if parent is None or parent.schema_hash == new.schema_hash:
        return False
    if allow:
        return True
    diff = diff_schemas(parent.schema, new.schema)
    changed = [*diff.added, *diff.removed, *(c for c, _, _ in diff.retyped)]
    err = SchemaMismatch(
        dataset_id,
        changed[0] if changed else None,
        f"the schema changed ({diff}); refused, nothing was changed",
    )
    err.hint = (
        "if the change is intended, publish again with `od run --allow-schema-change` "
        "(schema_change: allow); readers' code may depend on the old columns"
    )
    raise err


class Stats(msgspec.Struct, kw_only=True, frozen=True):
    """Quality statistics recorded at every publish."""

    row_count: Count
    bytes: Count
    shard_count: Count
    schema_hash: Sha256Hex
    min_time: str | None = None
    max_time: str | None = None
    columns: Count = 0
    null_counts: dict[str, Count] = {}


class Provenance(msgspec.Struct, kw_only=True, frozen=True):
    """Where a publish came from."""

    repo: str | None = None
    commit: str | None = None
    run_url: str | None = None
    workflow_ref: str | None = None
    """The CI workflow that ran, e.g. ``owner/repo/.github/workflows/x.yml@refs/heads/main``."""
    verified_by: str | None = None
    """Who vouches for these fields: ``"github-oidc"`` when a registry took them from a verified
    GitHub Actions token; ``None`` when the producer stated them itself."""


class Manifest(_Document, kw_only=True):
    """``manifest.json``: the commit record. Writing it (conditionally) *is* the publish."""

    dataset_id: str
    publish_id: str
    published_at: datetime
    parent_publish_id: str | None = None
    """The publish this one replaced (``None`` for the first)."""
    time_column: str | None = None
    partition: Partitioning = "none"
    schema: list[Field]
    schema_hash: Sha256Hex
    row_count: int
    bytes: int
    min_time: str | None = None
    max_time: str | None = None
    shards: list[Shard]
    primary_key: list[str] = []
    """Since format 1.1: the columns that identify a row (``opendata.yaml``'s ``primary_key``)."""
    provenance: Provenance = Provenance()
    """Since format 1.1: where this publish came from (also kept in its history entry)."""

    def stats(self) -> Stats:
        """The quality statistics of this version (totals, coverage, nulls per column)."""
        nulls: dict[str, int] = {}
        for shard in self.shards:
            for column, count in shard.null_counts.items():
                nulls[column] = nulls.get(column, 0) + count
        return Stats(
            row_count=self.row_count,
            bytes=self.bytes,
            shard_count=len(self.shards),
            schema_hash=self.schema_hash,
            min_time=self.min_time,
            max_time=self.max_time,
            columns=len(self.schema),
            null_counts=nulls,
        )


class MetadataDocument(_Document, kw_only=True):
    """``metadata.json``: the yaml fields, stats, schema and a preview of the first rows."""

    dataset: DatasetMetadata
    stats: Stats
    schema: list[Field]
    preview: list[dict[str, Any]] = []
    """Up to 100 rows, as JSON values (dates and times as ISO 8601 strings): the last rows."""
    updated_at: datetime
    provenance: Provenance = Provenance()
    preview_head: list[dict[str, Any]] = []
    """Added in 1.1: up to 100 first rows, in the same form (``[]`` when not written)."""
    profile: Profile | None = None
    """Added in 1.1: column statistics of the publish ``profile.publish_id`` (spec §5.7)."""


class MetadataHead(_Document, kw_only=True):
    """``metadata.json`` without its schema, previews and profile: what a catalogue row needs.

    Decoding it skips the rest of the document (about 5x faster than :class:`MetadataDocument`
    on a 20 KB document): the registry's sync reads a bucket's worth of them. Its fields are
    :class:`MetadataDocument`'s, with the same types (``tests/core/test_documents.py``).
    """

    dataset: DatasetMetadata
    stats: Stats
    updated_at: datetime
    provenance: Provenance = Provenance()


class IndexEntry(msgspec.Struct, kw_only=True):
    """One dataset in ``index.json``: enough for search and filters without another request."""

    id: str
    title: str
    description: str
    license: str
    repo: str
    provider: str
    topics: list[str] = []
    frequency: str | None = None
    geo_scope: str | None = None
    countries: list[str] = []
    time_column: str | None = None
    row_count: Count = 0
    bytes: Count = 0
    min_time: str | None = None
    max_time: str | None = None
    schema_hash: Sha256Hex | None = None
    updated_at: datetime | None = None
    status: DatasetStatus = "active"
    """Since format 1.1: the lifecycle status (``lifecycle.json``, spec §10); search leaves
    ``withdrawn`` datasets out."""
    successor: str | None = None
    """A deprecated dataset's successor id, when one is named."""
    trust: TrustLevel = "none"
    """The trust level an operator granted (spec §10.1); it lapses after ``trust_review_by``."""
    trust_review_by: date | None = None

    @property
    def namespace(self) -> str:
        """The dataset's namespace."""
        return self.id.split("/", 1)[0]

    def effective_trust(self, today: date | None = None) -> TrustLevel:
        """The trust level on ``today``: ``none`` once ``trust_review_by`` passed (spec §10.1)."""
        from opendata_core.lifecycle import Trust

        return Trust(level=self.trust, review_by=self.trust_review_by).effective(today)

    @classmethod
    def from_metadata(
        cls,
        meta: DatasetMetadata,
        stats: Stats | None = None,
        updated_at: datetime | None = None,
        lifecycle: Lifecycle | None = None,
    ) -> IndexEntry:
        """The index summary of a dataset: its ``opendata.yaml`` fields plus published stats.

        The one place that decides what ``index.json`` says about a dataset (the client, the CLI
        and the registry all build entries here). Status and trust come from ``lifecycle`` (its
        ``lifecycle.json``); without one, from the producer's ``deprecated`` in ``meta``.
        """
        from opendata_core.lifecycle import effective_lifecycle

        state = effective_lifecycle(meta.id, lifecycle, meta)
        return cls(
            id=meta.id,
            title=meta.title,
            description=meta.description,
            license=meta.license,
            repo=meta.repo,
            provider=meta.source.provider,
            topics=list(meta.topics),
            frequency=meta.frequency,
            geo_scope=meta.geo.scope if meta.geo else None,
            countries=list(meta.geo.countries) if meta.geo else [],
            time_column=meta.time_column,
            row_count=stats.row_count if stats else 0,
            bytes=stats.bytes if stats else 0,
            min_time=stats.min_time if stats else None,
            max_time=stats.max_time if stats else None,
            schema_hash=stats.schema_hash if stats else None,
            updated_at=updated_at,
            status=state.status,
            successor=state.successor,
            trust=state.trust.level,
            trust_review_by=state.trust.review_by,
        )


class Index(_Document, kw_only=True):
    """``index.json``: one summary per dataset, sorted by id."""

    updated_at: datetime
    datasets: list[IndexEntry] = []


class RunRecord(_Document, kw_only=True):
    """``runs/<time>-<id>.json``: what one producer run did (the health history)."""

    dataset_id: str
    run_id: str
    status: Literal["success", "failure"]
    error_class: ErrorClass | None = None
    message: str | None = None
    started_at: datetime
    finished_at: datetime
    stats: Stats | None = None
    publish_id: str | None = None
    schema_changed: bool = False
    unchanged: bool = False
    """A success that committed nothing: the data was identical to ``publish_id``."""
    provenance: Provenance = Provenance()


class _Version(msgspec.Struct):
    format: str = FORMAT_VERSION


D = TypeVar("D", bound=_Document)
T = TypeVar("T")

_NAMES: Final[dict[type[Any], str]] = {
    Manifest: "manifest.json",
    MetadataDocument: "metadata.json",
    MetadataHead: "metadata.json",
    Index: "index.json",
    RunRecord: "run record",
}


# One decoder per document type, built at import. msgspec builds a type's decoding information
# on its first use; two threads doing that at once crash the process (msgspec 0.22: a segfault,
# tests/core/test_documents_threads.py), so no first use may happen on a worker thread.
_DECODERS: Final[dict[type[Any], msgspec.json.Decoder[Any]]] = {
    kind: msgspec.json.Decoder(kind) for kind in _NAMES
}
_VERSION: Final = msgspec.json.Decoder(_Version)
_DECODERS_LOCK: Final = threading.Lock()


def json_decoder(kind: type[T]) -> msgspec.json.Decoder[T]:
    """The one JSON decoder of ``kind``, built once, under a lock (safe to call on any thread).

    Decode with it wherever threads may decode a type for the first time at once: msgspec 0.22
    builds a type's decoding information on its first use, and two threads doing that together
    can crash the process.

    >>> json_decoder(Provenance).decode(b'{"repo": "octo/prices"}').repo
    'octo/prices'
    """
    found = _DECODERS.get(kind)
    if found is None:
        with _DECODERS_LOCK:
            found = _DECODERS.get(kind)
            if found is None:
                found = _DECODERS[kind] = msgspec.json.Decoder(kind)
    return found


def _major(version: str, document: str) -> int:
    try:
        return int(version.split(".", 1)[0])
    except ValueError:
        raise FormatError(
            f"{document}: format {version!r} is not 'MAJOR.MINOR'",
            document=document,
            field="format",
        ) from None


def _check_version(version: str, document: str) -> None:
    """Raise :class:`UnsupportedFormatVersion` when ``version`` is a newer major than ours."""
    found = _major(version, document)
    supported = _major(FORMAT_VERSION, document)
    if found > supported:
        raise UnsupportedFormatVersion(document=document, found=version, supported=FORMAT_VERSION)


def decode_document(data: bytes | str, kind: type[D], *, name: str | None = None) -> D:
    """Decode a JSON document and check its format version.

    Args:
        data: The JSON bytes.
        kind: :class:`Manifest`, :class:`MetadataDocument`, :class:`Index` or :class:`RunRecord`.
        name: How to call the document in errors (defaults to its file name).

    Raises:
        UnsupportedFormatVersion: written by a newer major version.
        FormatError: not JSON, or a field has the wrong type; the message has the JSON path.
    """
    document = name or _NAMES.get(kind, kind.__name__)
    # One parse: the typed decode, then its version. Only a document that does not decode is
    # parsed again for its version alone, so that a newer major says so, not which field broke.
    try:
        doc = json_decoder(kind).decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        try:
            version = _VERSION.decode(data).format
        except (msgspec.DecodeError, msgspec.ValidationError) as not_json:
            raise FormatError(
                f"{document}: not a valid JSON document: {not_json}", document=document
            ) from None
        _check_version(version, document)
        text = str(exc)
        field = text.rsplit("at `", 1)[1].rstrip("`") if "at `" in text else None
        raise FormatError(f"{document}: {text}", document=document, field=field) from None
    _check_version(doc.format, document)
    if isinstance(doc, Manifest):
        check_manifest(doc, document)
    return doc


_SHA256: Final = re.compile(r"[0-9a-f]{64}")


def check_manifest(manifest: Manifest, document: str = "manifest.json") -> None:
    """Check a manifest as a whole (spec 5.1); :func:`decode_document` calls it.

    Every shard's ``sha256`` is 64 lower-case hex digits and its ``path`` exactly
    ``parts/<sha256>.parquet``; no shard is listed twice; ``rows`` and ``bytes`` are ≥ 0 and the
    totals are their sums; the time column is in the schema with a date or timestamp type; every
    time bound is an ISO 8601 date or date-time.

    Raises:
        FormatError: naming the document and the field (``shards[2].path``), and the value.
    """

    def fail(field: str, problem: str) -> NoReturn:
        raise FormatError(f"{document}: {field} {problem}", document=document, field=field)

    def iso(field: str, value: str | None) -> None:
        if value is None:
            return
        try:
            datetime.fromisoformat(value)
        except ValueError:
            fail(field, f"= {shorten(value)!r} is not an ISO 8601 date or date-time")

    names = {f.name: f.type for f in manifest.schema}
    if len(names) != len(manifest.schema):
        fail("schema", "lists a column name twice")
    tc = manifest.time_column
    if tc is not None:
        if tc not in names:
            fail("time_column", f"= {shorten(tc)!r} is not a column of the schema")
        if not names[tc].startswith(("date", "timestamp[")):
            fail(
                "time_column",
                f"= {shorten(tc)!r} has type {shorten(names[tc])!r}, not a date or timestamp",
            )
    seen: set[str] = set()
    for i, shard in enumerate(manifest.shards):
        where = f"shards[{i}]"
        if not _SHA256.fullmatch(shard.sha256):
            fail(f"{where}.sha256", f"= {shorten(shard.sha256)!r} is not 64 lower-case hex digits")
        if shard.path != f"parts/{shard.sha256}.parquet":
            fail(f"{where}.path", f"= {shorten(shard.path)!r} is not 'parts/<its sha256>.parquet'")
        if shard.sha256 in seen:
            fail(f"{where}.sha256", f"= {shard.sha256!r} lists the same shard twice")
        seen.add(shard.sha256)
        if shard.rows < 0 or shard.bytes < 0:
            fail(f"{where}.rows", f"and .bytes must be ≥ 0 (got {shard.rows}, {shard.bytes})")
        iso(f"{where}.min", shard.min)
        iso(f"{where}.max", shard.max)
        _check_blocks(shard, where, fail)
    iso("min_time", manifest.min_time)
    iso("max_time", manifest.max_time)
    rows = sum(s.rows for s in manifest.shards)
    if manifest.row_count != rows:
        fail("row_count", f"= {manifest.row_count} is not the sum of the shards' rows ({rows})")
    size = sum(s.bytes for s in manifest.shards)
    if manifest.bytes != size:
        fail("bytes", f"= {manifest.bytes} is not the sum of the shards' bytes ({size})")


FOOTER_TAIL: Final = 8
"""A Parquet file ends with the 4-byte footer length and the magic ``PAR1``."""


def _check_blocks(shard: Shard, where: str, fail: Callable[[str, str], NoReturn]) -> None:
    """A shard's ``blocks`` (format 1.1) cover its bytes exactly, each with a real SHA-256."""
    if not shard.blocks:
        return
    total = 0
    for j, block in enumerate(shard.blocks):
        if block.length <= 0:
            fail(f"{where}.blocks[{j}]", f"has length {block.length}; a block holds ≥ 1 byte")
        if not _SHA256.fullmatch(block.sha256):
            fail(
                f"{where}.blocks[{j}]",
                f"sha256 = {shorten(block.sha256)!r} is not 64 lower-case hex digits",
            )
        total += block.length
    if total != shard.bytes:
        fail(
            f"{where}.blocks",
            f"cover {total:,} bytes, but the shard has {shard.bytes:,}; the blocks must cover "
            "the file exactly",
        )
    if shard.blocks[-1].length < FOOTER_TAIL:
        fail(
            f"{where}.blocks[{len(shard.blocks) - 1}]",
            f"has length {shard.blocks[-1].length}; the last block is the Parquet footer "
            f"(≥ {FOOTER_TAIL} bytes)",
        )


def encode_document(doc: msgspec.Struct) -> bytes:
    """Encode a document as compact UTF-8 JSON."""
    return msgspec.json.encode(doc)
