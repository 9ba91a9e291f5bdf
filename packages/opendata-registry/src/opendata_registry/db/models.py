"""The registry's tables (SQLAlchemy 2). Migrations live in ``db/migrations``; keep them in step.

The full-text index is not declared here: it is database-specific (an FTS5 table kept by
triggers on SQLite, a generated ``tsvector`` column on PostgreSQL) and is created by the
migration; :mod:`opendata_registry.domain.catalogue.search` queries it.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from typing import Any, Final

import msgspec
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from opendata_core.search import stems, vocabulary_words

__all__ = [
    "ApiKey",
    "Base",
    "Dataset",
    "DatasetTag",
    "Lease",
    "LifecycleEventRow",
    "LifecycleRow",
    "NamespaceGrant",
    "NamespaceOwner",
    "Owner",
    "ProducerToken",
    "Publish",
    "Run",
    "SearchWord",
    "SyncState",
    "UsageCounter",
    "UsedJti",
    "search_stems",
    "search_words",
]


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SQLiteCompressed(TypeDecorator[str]):
    """Text kept zstd-compressed on SQLite (a BLOB in the row), plain text on PostgreSQL.

    A dataset's ``metadata.json`` carries its previews and profile (~20 KB): at 100,000
    datasets, 2 GB that SQLite wrote in overflow pages — two thirds of a bulk load's time
    (docs/benchmarks.md, "Where the restore's time goes"), and a row's later columns were read
    past them. Compressed it is a few KB. PostgreSQL compresses large values itself (TOAST).
    Rows written before are text and read as they are: only a BLOB is decompressed.

    >>> column = SQLiteCompressed()
    >>> from sqlalchemy.dialects import sqlite
    >>> stored = column.process_bind_param('{"a": 1}', sqlite.dialect())
    >>> type(stored).__name__, column.process_result_value(stored, sqlite.dialect())
    ('bytes', '{"a": 1}')
    """

    impl = Text  # on SQLite a TEXT column keeps a BLOB as it is given (no conversion)
    cache_ok = True

    def process_bind_param(self, value: str | bytes | None, dialect: Dialect) -> str | bytes | None:
        # ``bytes``: compressed already by :func:`compress_text` (a bulk sync does that on a
        # worker thread, beside the writer).
        if dialect.name != "sqlite":
            return decompress_text(value) if isinstance(value, bytes) else value
        return compress_text(value) if isinstance(value, str) else value

    def process_result_value(self, value: str | bytes | None, dialect: Dialect) -> str | None:
        return decompress_text(value) if isinstance(value, bytes) else value


_ZSTD_LEVEL: Final = 1  # 9.6x on the benchmark's documents at 29 µs each; level 3 was no smaller


def compress_text(value: str) -> bytes:
    """``value`` as :class:`SQLiteCompressed` stores it.

    Its UTF-8 length (4 bytes, little endian), then the zstd frame of its UTF-8 bytes.
    """
    data = value.encode()
    frame: bytes = _zstd().compress(data, asbytes=True)
    return len(data).to_bytes(4, "little") + frame


def decompress_text(stored: bytes) -> str:
    """The text :func:`compress_text` stored."""
    size = int.from_bytes(stored[:4], "little")
    data = _zstd().decompress(memoryview(stored)[4:], decompressed_size=size, asbytes=True)
    return bytes(data).decode()


@functools.cache
def _zstd() -> Any:
    import pyarrow as pa  # core's [parquet] extra: here for its zstd codec

    return pa.Codec("zstd", compression_level=_ZSTD_LEVEL)


class Base(DeclarativeBase):
    """Declarative base of every table."""


def search_stems(id: str, title: str, description: str, topics_text: str) -> str:
    """The ``search_stems`` of a dataset's texts: core's stems of their words, space-separated.

    >>> search_stems("me/rates", "Interest rating", "by country", "finance")
    'rate countri'
    """
    return " ".join(stems(f"{id} {title} {topics_text} {description}"))


def search_words(id: str, title: str, description: str, topics_text: str) -> str:
    """The ``search_words`` of a dataset's texts: core's vocabulary words, a JSON array.

    >>> search_words("me/rates", "Interest rates", "of 2024", "finance")
    '["finance","interest","me","of","rates"]'
    """
    found = vocabulary_words(f"{id} {title} {topics_text} {description}")
    return msgspec.json.encode(found).decode()


def _texts(context: Any) -> tuple[str, str, str, str]:
    row = context.get_current_parameters()
    id, title, description, topics = (
        row.get(k) or "" for k in ("id", "title", "description", "topics_text")
    )
    return id, title, description, topics


def _stems_default(context: Any) -> str:
    """``search_stems`` from the texts an insert gives (ORM or Core, one row or many)."""
    return search_stems(*_texts(context))


def _words_default(context: Any) -> str:
    """``search_words`` from the texts an insert gives."""
    return search_words(*_texts(context))


class Dataset(Base):
    """One dataset of the catalogue: its current metadata, manifest and README."""

    __tablename__ = "datasets"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(141), unique=True)
    namespace: Mapped[str] = mapped_column(String(39), index=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    topics_text: Mapped[str] = mapped_column(Text, default="")
    """The topics joined by spaces (what full-text search indexes)."""
    search_stems: Mapped[str] = mapped_column(Text, default=_stems_default)
    """Core's stems of the id, title, topics and description (:func:`search_stems`), indexed
    next to their words (migration 0008). Filled on insert; an update of the texts sets it."""
    search_words: Mapped[str] = mapped_column(Text, default=_words_default)
    """Core's vocabulary words of the same texts (:func:`search_words`), counted by trigger
    into :class:`SearchWord` (migration 0012). Filled on insert; an update of the texts sets it."""
    license: Mapped[str] = mapped_column(String(200), index=True)
    frequency: Mapped[str | None] = mapped_column(String(20), index=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    min_time: Mapped[str | None] = mapped_column(String(40))
    max_time: Mapped[str | None] = mapped_column(String(40))
    publish_id: Mapped[str] = mapped_column(String(100))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entry_json: Mapped[str] = mapped_column(Text)
    """The dataset's ``index.json`` entry (IndexEntry JSON)."""
    metadata_json: Mapped[str] = mapped_column(SQLiteCompressed)
    """``metadata.json`` as the bucket has it (zstd-compressed on SQLite)."""
    manifest_json: Mapped[str] = mapped_column(Text)
    readme: Mapped[str] = mapped_column(Text, default="")
    manifest_etag: Mapped[str] = mapped_column(String(200), default="")
    metadata_etag: Mapped[str] = mapped_column(String(200), default="")
    readme_etag: Mapped[str] = mapped_column(String(200), default="")
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12), default="active", server_default="active")
    """The lifecycle status (spec §10): search leaves ``withdrawn`` out (migration 0009)."""
    trust: Mapped[str] = mapped_column(String(24), default="none", server_default="none")
    trust_review_by: Mapped[date | None] = mapped_column(Date, nullable=True)
    """After this day ``trust`` counts as ``none`` (``Trust.effective``)."""
    # Also indexed by (updated_at DESC NULLS LAST, id), the "updated" order (migration 0004;
    # dialect-specific DDL, so not declared here).


class SearchWord(Base):
    """A word of the catalogue's texts and how many datasets use it ("did you mean").

    Kept by triggers on ``datasets.search_words`` (migration 0012), whoever writes.
    """

    __tablename__ = "search_vocabulary"

    word: Mapped[str] = mapped_column(Text, primary_key=True)
    datasets: Mapped[int] = mapped_column(Integer)


class DatasetTag(Base):
    """A multi-valued facet value of a dataset: ``topic`` or ``geo`` (scope and countries)."""

    __tablename__ = "dataset_tags"
    __table_args__ = (Index("ix_dataset_tags_facet_value_pk", "facet", "value", "dataset_pk"),)

    dataset_pk: Mapped[int] = mapped_column(
        ForeignKey("datasets.pk", ondelete="CASCADE"), primary_key=True
    )
    facet: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[str] = mapped_column(String(100), primary_key=True)


class Publish(Base):
    """Every distinct ``manifest.json`` publish the registry has seen (for history)."""

    __tablename__ = "publishes"
    __table_args__ = (Index("ix_publishes_dataset_time", "dataset_id", "published_at"),)

    dataset_id: Mapped[str] = mapped_column(String(141), primary_key=True)
    publish_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    summary_json: Mapped[str] = mapped_column(Text)
    """The PublishSummary JSON."""
    manifest_json: Mapped[str] = mapped_column(Text)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Run(Base):
    """One producer run record (``runs/…json``)."""

    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_dataset_started", "dataset_id", "started_at"),)

    dataset_id: Mapped[str] = mapped_column(String(141), primary_key=True)
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    """The run record's file name inside ``runs/``."""
    status: Mapped[str] = mapped_column(String(10))
    publish_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    summary_json: Mapped[str] = mapped_column(Text)
    """The RunSummary JSON."""


class SyncState(Base):
    """What the last sync saw of the bucket (migration 0010).

    ``index_etag``: the ETag of the ``index.json`` the catalogue is in step with.
    """

    __tablename__ = "sync_state"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class ApiKey(Base):
    """An API key: only its sha256 is stored; ``prefix`` is the public part shown in lists."""

    __tablename__ = "api_keys"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prefix: Mapped[str] = mapped_column(String(40), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    tier: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class UsageCounter(Base):
    """A caller's use per UTC day; ``subject`` is ``key:<pk>`` or ``ip:<address>``."""

    __tablename__ = "usage"

    subject: Mapped[str] = mapped_column(String(100), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    downloads: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    failures: Mapped[int] = mapped_column(BigInteger, default=0)


class Lease(Base):
    """A named lease, so only one process syncs the catalogue at a time."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    until: Mapped[datetime] = mapped_column(UTCDateTime)


# -- publishing (registry part 2, migration 0002) ------------------------------------------------


class Owner(Base):
    """Who may publish a dataset: the repository that registered it, pinned by numeric ids.

    Kept apart from ``datasets`` (which mirrors the bucket and is rebuilt by sync): ownership is
    the registry's own state.
    """

    __tablename__ = "owners"

    dataset_id: Mapped[str] = mapped_column(String(141), primary_key=True)
    repository: Mapped[str] = mapped_column(String(200))
    """``owner/name`` as the token named it at registration (lower-case)."""
    repository_id: Mapped[str] = mapped_column(String(40))
    repository_owner_id: Mapped[str] = mapped_column(String(40))
    workflow_ref: Mapped[str | None] = mapped_column(String(400), nullable=True)
    """Policy: only this workflow file may publish (``owner/repo/.github/workflows/x.yml``)."""
    ref: Mapped[str | None] = mapped_column(String(400), nullable=True)
    """Policy: only this git ref (``refs/heads/main``), matched against the token's ``ref``."""
    environment: Mapped[str | None] = mapped_column(String(400), nullable=True)
    """Policy: only jobs in this GitHub environment (lower-case), matched against
    ``environment``."""
    allow_tokens: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Policy: producer tokens of the namespace or dataset may publish it too (unverified)."""
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NamespaceGrant(Base):
    """An admin grant: the GitHub owner ``github_owner`` may register datasets in ``namespace``."""

    __tablename__ = "namespace_grants"

    namespace: Mapped[str] = mapped_column(String(39), primary_key=True)
    github_owner: Mapped[str] = mapped_column(String(39), primary_key=True)
    """Lower-case GitHub user or organisation name."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProducerToken(Base):
    """An admin-created publish token for CI other than GitHub Actions (stored as its sha256)."""

    __tablename__ = "producer_tokens"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prefix: Mapped[str] = mapped_column(String(40), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    namespace: Mapped[str | None] = mapped_column(String(39), nullable=True)
    """Scope: every dataset of this namespace (or ``None`` when ``dataset_id`` is set)."""
    dataset_id: Mapped[str | None] = mapped_column(String(141), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class UsedJti(Base):
    """OIDC token ids already exchanged (single use), kept until the token expires."""

    __tablename__ = "used_jtis"

    jti: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# -- lifecycle and trust (spec §10, migration 0009) ----------------------------------------------


class LifecycleRow(Base):
    """An id's ``lifecycle.json`` (a live dataset's, or a moved id's reserved tombstone).

    Kept in step with the bucket: every change is written there first; the sync reads back any
    document whose ETag changed, so a rebuilt database gets every state (and reserved id) back.
    """

    __tablename__ = "lifecycles"

    dataset_id: Mapped[str] = mapped_column(String(141), primary_key=True)
    status: Mapped[str] = mapped_column(String(12))
    moved_to: Mapped[str | None] = mapped_column(String(141), nullable=True)
    trust: Mapped[str] = mapped_column(String(24))
    trust_review_by: Mapped[date | None] = mapped_column(Date, nullable=True)
    doc_json: Mapped[str] = mapped_column(Text)
    """The document, byte for byte as in the bucket."""
    etag: Mapped[str] = mapped_column(String(200), default="", server_default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LifecycleEventRow(Base):
    """One audit event: of a dataset id (its ``lifecycle.json`` events), or of a namespace."""

    __tablename__ = "lifecycle_events"

    subject: Mapped[str] = mapped_column(String(141), primary_key=True)
    """A dataset id, or a namespace (no slash) for a transfer."""
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    by: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    details_json: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")


class NamespaceOwner(Base):
    """The GitHub owner id a namespace belongs to, once an operator transferred it."""

    __tablename__ = "namespace_owners"

    namespace: Mapped[str] = mapped_column(String(39), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(40))
    transferred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    transferred_by: Mapped[str] = mapped_column(String(200))
