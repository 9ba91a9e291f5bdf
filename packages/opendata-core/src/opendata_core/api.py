"""The registry's HTTP API v1: the JSON bodies the registry sends and the client and portal read.

One home for the wire shapes, so that the service (``opendata-registry``), the client's registry
mode and the portal encode and decode exactly the same documents. Errors are
:class:`~opendata_core.problems.ProblemDetails` bodies. Like the other wire formats these tolerate
unknown fields, so a newer registry can add fields without breaking older clients.

Endpoints (all under the registry's base URL)::

    GET  /v1/index.json                          Index (spec §5.5), ETag + gzip
    GET  /v1/datasets?q=&topic=&...              SearchResults
    GET  /v1/datasets/{ns}/{name}                DatasetDetail
    GET  /v1/datasets/{ns}/{name}/runs           RunsPage
    GET  /v1/datasets/{ns}/{name}/history        HistoryPage
    GET  /v1/datasets/{ns}/{name}/versions       VersionList
    GET  /v1/datasets/{ns}/{name}/versions/{v}   Manifest (of one kept version)
    POST /v1/datasets/{ns}/{name}/download       DownloadRequest -> DownloadResponse
    GET  /v1/usage                               UsageReport
    GET  /v1/auth/github-oidc                    OidcConfig (the audience to ask GitHub for)
    POST /v1/auth/github-oidc                    OidcExchange -> PublishToken
    POST /v1/datasets/{ns}/{name}/uploads        UploadRequest -> UploadResponse
    POST /v1/datasets/{ns}/{name}/commit         CommitRequest -> CommitResponse
    POST /v1/datasets/{ns}/{name}/runs           RunPost -> RunSummary
    GET  /healthz, /readyz                       liveness / readiness

Example:
    >>> import msgspec
    >>> body = b'{"start": "2024-01", "columns": ["date", "usd"]}'
    >>> msgspec.json.decode(body, type=DownloadRequest).columns
    ['date', 'usd']
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Final, Literal, get_args

import msgspec

from opendata_core.documents import (
    ErrorClass,
    Field,
    IndexEntry,
    Manifest,
    MetadataDocument,
    Provenance,
    Stats,
)
from opendata_core.lifecycle import DatasetStatus, Lifecycle, LifecycleEvent, TrustLevel
from opendata_core.metadata import DatasetMetadata
from opendata_core.profile import Profile

__all__ = [
    "API_VERSION",
    "FACETS",
    "SORTS",
    "TRUST_FACET",
    "CommitRequest",
    "CommitResponse",
    "DatasetDetail",
    "DatasetHit",
    "DownloadRequest",
    "DownloadResponse",
    "Facet",
    "FacetCount",
    "HealthStatus",
    "HealthSummary",
    "HistoryPage",
    "LifecycleEvents",
    "OidcConfig",
    "OidcExchange",
    "PublishSummary",
    "PublishToken",
    "RunPost",
    "RunSummary",
    "RunsPage",
    "SearchResults",
    "ShardUpload",
    "SignedShard",
    "SignedUpload",
    "Sort",
    "TierLimits",
    "UploadRequest",
    "UploadResponse",
    "UsageDay",
    "UsageReport",
    "VersionList",
]

API_VERSION = "v1"

Facet = Literal["topic", "namespace", "license", "frequency", "geo"]
"""A filter of ``GET /v1/datasets`` that the registry counts per value (``SearchResults.facets``).
"""
FACETS: Final[tuple[Facet, ...]] = get_args(Facet)
"""Every :data:`Facet`, in the order a page shows them."""
TRUST_FACET: Final = "trust"
"""Also counted in ``SearchResults.facets``: the trust level in force (spec §10.1). Its filter
``trust=LEVEL`` keeps that level and higher (``verified=true``: ``verified-publisher`` and up),
so it is not one of :data:`FACETS`, whose filters keep one value."""
Sort = Literal["relevance", "updated", "name"]
"""An order of ``GET /v1/datasets?sort=`` (by default relevance with a text query, else updated)."""
SORTS: Final[tuple[Sort, ...]] = get_args(Sort)
"""Every :data:`Sort`."""

HealthStatus = Literal["ok", "failing", "stale", "unknown"]
"""``ok``: the last runs succeeded and data is fresh; ``failing``: the last run failed; ``stale``:
no successful publish within the dataset's ``frequency`` (plus grace); ``unknown``: no runs."""


class _Wire(msgspec.Struct, kw_only=True):
    pass


class HealthSummary(_Wire, kw_only=True):
    """A dataset's run health, computed by the registry from its run records (spec §5.6)."""

    status: HealthStatus = "unknown"
    stale: bool = False
    stale_reason: str | None = None
    """Why it is stale, e.g. "last run 63 days ago — the schedule may have been disabled"."""
    success_rate: float | None = None
    """Share of successful runs among the last ``runs_considered`` runs (``None``: no runs)."""
    runs_considered: int = 0
    recent: list[Literal["success", "failure"]] = []
    """The last runs' statuses, newest first."""
    last_run_at: datetime | None = None
    last_success_at: datetime | None = None
    last_failure_class: ErrorClass | None = None
    last_failure_message: str | None = None


class DatasetHit(_Wire, kw_only=True):
    """One search result: the index entry plus health at a glance."""

    dataset: IndexEntry
    health: HealthSummary = msgspec.field(default_factory=HealthSummary)


class FacetCount(_Wire, kw_only=True):
    """How many results have this value of a facet (topic, namespace, license, ...)."""

    value: str
    count: int


class SearchResults(_Wire, kw_only=True):
    """``GET /v1/datasets``: one page of results, with counts per facet value."""

    query: str = ""
    suggestion: str | None = None
    """When a text query finds nothing: a query of the catalogue's own words ("did you mean")."""
    total: int
    page: int
    per_page: int
    datasets: list[DatasetHit] = []
    facets: dict[str, list[FacetCount]] = {}
    """Facet name (one of :data:`FACETS`) → counts."""


class PublishSummary(_Wire, kw_only=True):
    """One published version of a dataset (a ``manifest.json`` without its shard list)."""

    publish_id: str
    published_at: datetime
    parent_publish_id: str | None = None
    row_count: int
    bytes: int
    shard_count: int
    min_time: str | None = None
    max_time: str | None = None
    time_column: str | None = None
    partition: str = "none"
    schema: list[Field] = []
    schema_hash: str
    schema_changed: bool = False
    """Whether ``schema_hash`` differs from the parent publish's."""
    provenance: Provenance = Provenance()


class DatasetDetail(_Wire, kw_only=True):
    """``GET /v1/datasets/{ns}/{name}``: everything a dataset page shows."""

    id: str
    metadata: MetadataDocument
    """The dataset's ``metadata.json`` (yaml fields, stats, schema, the 100-row preview)."""
    manifest: PublishSummary
    readme: str = ""
    health: HealthSummary = msgspec.field(default_factory=HealthSummary)
    lifecycle: Lifecycle | None = None
    """Status, trust and audit trail in force (spec §10): its ``lifecycle.json``, else the
    producer's ``deprecated`` (``effective_lifecycle``); ``None`` from an older registry."""


class LifecycleEvents(_Wire, kw_only=True):
    """``GET /v1/datasets/{ns}/{name}/events``: the dataset's audit trail, oldest first."""

    dataset_id: str
    status: DatasetStatus = "active"
    trust: TrustLevel = "none"
    """The level in force today (a lapsed ``review_by`` counts as ``none``)."""
    events: list[LifecycleEvent] = []


class RunSummary(_Wire, kw_only=True):
    """One producer run (from ``runs/…json``)."""

    run_id: str
    status: Literal["success", "failure"]
    error_class: ErrorClass | None = None
    message: str | None = None
    started_at: datetime
    finished_at: datetime
    publish_id: str | None = None
    schema_changed: bool = False
    row_count: int | None = None
    provenance: Provenance = Provenance()


class RunsPage(_Wire, kw_only=True):
    """``GET /v1/datasets/{ns}/{name}/runs``: run history, newest first."""

    total: int
    page: int
    per_page: int
    runs: list[RunSummary] = []


class HistoryPage(_Wire, kw_only=True):
    """``GET /v1/datasets/{ns}/{name}/history``: the publishes seen, oldest first.

    Row counts and schema changes across publishes, for the portal's chart; it includes
    publishes that retention has removed since (:class:`VersionList` lists what can be loaded).
    """

    total: int
    publishes: list[PublishSummary] = []


class VersionList(_Wire, kw_only=True):
    """``GET /v1/datasets/{ns}/{name}/versions``: the kept versions, newest first (spec §8).

    Exactly what ``od.Client(store).versions(id)`` lists on the bucket itself: the history chain
    from the current manifest, each with ``schema_changed`` against the version before it. Each
    version's manifest is ``GET …/versions/{publish_id}`` (also the URL a citation names).
    """

    dataset_id: str
    versions: list[PublishSummary] = []


class DownloadRequest(_Wire, kw_only=True):
    """``POST /v1/datasets/{ns}/{name}/download``: which rows and columns will be read.

    ``start``/``end`` take the same ISO 8601 forms as ``od.load`` (``"2024"``, ``"2024-03"``,
    dates, date-times); the registry signs exactly the shards that overlap.
    """

    start: str | None = None
    end: str | None = None
    columns: list[str] | None = None
    version: str | None = None
    """A ``publish_id`` (or a unique prefix of at least 8 characters); default the current
    version."""
    as_of: str | None = None
    """The version current at this ISO 8601 moment (a date means 00:00 UTC, no zone means UTC);
    not with ``version``. Both are resolved by :func:`opendata_core.versions.select_manifest`."""


class SignedShard(_Wire, kw_only=True):
    """One shard to download: the manifest's entry plus a short-lived signed GET URL."""

    path: str
    sha256: str
    rows: int
    bytes: int
    partition: str
    min: str | None = None
    max: str | None = None
    url: str
    """Pre-signed GET URL; supports ``Range``; valid until the response's ``expires_at``."""


class DownloadResponse(_Wire, kw_only=True):
    """The manifest to verify against, and signed URLs for exactly the shards needed."""

    dataset_id: str
    manifest: Manifest
    shards: list[SignedShard]
    expires_at: datetime
    exports: dict[str, str] = {}
    """Signed URLs of the same rows as one file, by format (``csv``, ``parquet``), made by the
    registry from these shards (the CSV formula-escaped); valid until ``expires_at``. Empty
    past the registry's export bound (``export_refused`` says why) or from an older registry."""
    export_refused: str | None = None
    lifecycle: Lifecycle | msgspec.UnsetType | None = msgspec.UNSET
    """The dataset's own ``lifecycle.json`` as the registry keeps it (``None``: it has none),
    the same document as ``GET …/lifecycle``, so a load needs no second request to learn
    whether it is deprecated (spec §10.4). Absent (``UNSET``) from a registry older than it."""


class TierLimits(_Wire, kw_only=True):
    """What a tier allows (the registry's settings)."""

    name: str
    requests_per_minute: int
    download_bytes_per_day: int
    url_expiry_minutes: int
    max_page_size: int
    max_shard_bytes: int = 1024**3
    """The largest shard a producer of this tier may upload through the registry."""


class UsageDay(_Wire, kw_only=True):
    """One day of a caller's use of the registry (UTC days)."""

    day: date
    requests: int = 0
    downloads: int = 0
    """``download`` calls answered with URLs."""
    bytes: int = 0
    """Bytes of the shards signed for download."""
    failures: int = 0
    """Requests answered with an error."""


class UsageReport(_Wire, kw_only=True):
    """``GET /v1/usage``: the caller's usage by day (newest first) and its tier's limits."""

    key_prefix: str | None = None
    """The API key's public prefix (``od_live_abcd…``), or ``None`` for anonymous callers."""
    tier: str
    limits: TierLimits
    days: list[UsageDay] = []


# -- publishing (registry part 2) ---------------------------------------------------------------


class OidcConfig(_Wire, kw_only=True):
    """``GET /v1/auth/github-oidc``: what a GitHub Actions job asks GitHub for."""

    issuer: str
    audience: str
    """Request the job's OIDC token with this ``audience``."""


class OidcExchange(_Wire, kw_only=True):
    """``POST /v1/auth/github-oidc``: a GitHub Actions OIDC token (a JWT) to exchange."""

    token: str


class PublishToken(_Wire, kw_only=True):
    """A short-lived token to publish the datasets of one repository (``Authorization: Bearer``)."""

    token: str
    expires_at: datetime
    repository: str
    """``owner/name`` of the repository whose datasets the token may publish."""


class ShardUpload(_Wire, kw_only=True):
    """One shard the producer wants to upload: its sha256 (64 lower-case hex) and size."""

    sha256: str
    bytes: int


class UploadRequest(_Wire, kw_only=True):
    """``POST /v1/datasets/{ns}/{name}/uploads``: the shards of the publish being prepared."""

    shards: list[ShardUpload]


class SignedUpload(_Wire, kw_only=True):
    """Where to PUT one shard: the URL and the headers to send with it."""

    sha256: str
    bytes: int
    path: str
    """``parts/<sha256>.parquet``, as the manifest lists it."""
    url: str
    headers: dict[str, str] = {}


class UploadResponse(_Wire, kw_only=True):
    """Signed PUT URLs for the shards to write; ``reusable``: listed by the current manifest."""

    uploads: list[SignedUpload] = []
    reusable: list[str] = []
    expires_at: datetime
    current_publish_id: str | None = None
    """The live publish (the ``parent_publish_id`` to commit on)."""


class CommitRequest(_Wire, kw_only=True):
    """``POST /v1/datasets/{ns}/{name}/commit``: make ``manifest`` the live version.

    ``parent_publish_id`` is the publish the manifest was built on (``None``: the first). The
    registry verifies the shards, applies the schema gate, writes ``manifest.json``
    conditionally, then ``metadata.json``, ``README.md``, the run record and ``index.json``.
    Sending the same ``manifest.publish_id`` again is safe: a publish already live is a success.

    With ``mode: "append"`` the manifest is ``parent``'s shards plus the partitions the append
    writes; when another publish committed since ``parent``, the registry rebases the append onto
    it (``opendata_core.publish.rebase_append``) instead of answering ``409``, unless both wrote
    the same partition. A registry that predates ``mode`` ignores it and answers ``409`` as for
    a replace, which a client handles by merging again.
    """

    parent_publish_id: str | None = None
    manifest: Manifest
    mode: Literal["replace", "append"] = "replace"
    """``append``: the registry may rebase this publish onto a newer live one (spec §4.1)."""
    metadata: DatasetMetadata
    """The dataset's ``opendata.yaml`` fields."""
    preview: list[dict[str, Any]] = []
    """Up to 100 rows for ``metadata.json`` (the registry cannot read Parquet)."""
    preview_head: list[dict[str, Any]] = []
    """The first rows, likewise (``metadata.json``'s ``preview_head``)."""
    profile: Profile | None = None
    """Column statistics of ``manifest`` (dropped when the registry rebases an append: they
    describe other data than it commits)."""
    readme: str | None = None
    """``README.md``; default: rendered from ``metadata``."""
    schema_change: Literal["refuse", "allow"] = "refuse"
    """``allow``: accept a ``schema_hash`` that differs from the parent's (it is recorded)."""
    run_id: str | None = None
    """The run record's id (``[a-z0-9]{1,32}``); default: the CI run id, else random."""
    started_at: datetime | None = None


class CommitResponse(_Wire, kw_only=True):
    """The outcome of a commit (also when the same publish was already live)."""

    dataset_id: str
    publish_id: str
    published_at: datetime
    registered: bool = False
    """This commit registered the dataset to the token's repository."""
    already_committed: bool = False
    """The publish was already live (a retried commit whose first reply was lost)."""
    schema_changed: bool = False
    provenance: Provenance = Provenance()
    warnings: list[str] = []
    """Post-commit steps that failed; the publish stands (spec §4.1 step 7)."""
    rebased_onto: str | None = None
    """An append committed on this newer live publish instead of its parent (its rows are the
    live ones plus the appended partitions); ``None``: committed on its own parent."""
    stats: Stats | None = None
    """The committed version's statistics (they differ from the request's after a rebase)."""


class RunPost(_Wire, kw_only=True):
    """``POST /v1/datasets/{ns}/{name}/runs``: record a producer run, a failure in particular."""

    run_id: str | None = None
    status: Literal["success", "failure"]
    error_class: ErrorClass | None = None
    message: str | None = None
    started_at: datetime
    finished_at: datetime
    publish_id: str | None = None
    stats: Stats | None = None
    schema_changed: bool = False
    unchanged: bool = False
