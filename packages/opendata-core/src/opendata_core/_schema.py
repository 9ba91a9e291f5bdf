"""The Structs of ``opendata.yaml`` and the report of a check (public via :mod:`.metadata`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal, TypeAlias, get_args

import msgspec

from opendata_core._findings import Finding
from opendata_core.ids import DatasetId

FREQUENCIES: Final = ("hourly", "daily", "weekly", "monthly", "quarterly", "yearly", "adhoc")
"""Allowed values of ``frequency``."""
Partitioning: TypeAlias = Literal["year", "month", "day", "none"]
"""How a dataset's shards are split on its time column (``partition``; one definition)."""
PARTITIONS: Final[tuple[str, ...]] = get_args(Partitioning)
"""Allowed values of ``partition``."""
GEO_SCOPES: Final = ("global", "region", "country", "multi")

GeoScope = Literal["global", "region", "country", "multi"]


# These Structs are tolerant of unknown fields on purpose: they are also embedded in the wire
# documents (metadata.json, index.json), which must accept fields added by newer producers.
# Strictness for the user-written file comes from the checker (_checker.py), which rejects
# unknown keys with a location and a "did you mean" (msgspec's own strict mode gives neither).
# See docs/decisions/0001-strict-yaml-tolerant-wire.md.
class Source(msgspec.Struct, kw_only=True, frozen=True):
    """Where the data comes from."""

    provider: str
    """Who publishes the original data, e.g. ``"European Central Bank"``."""
    homepage: str | None = None
    """The provider's home page (http/https URL)."""
    dataset: str | None = None
    """The page or endpoint of the original dataset (http/https URL)."""


class Geo(msgspec.Struct, kw_only=True, frozen=True):
    """Geographic coverage."""

    scope: GeoScope | None = None
    countries: list[str] = []
    """ISO 3166-1 alpha-2 codes, upper case."""
    regions: list[str] = []
    """Free-form region names, e.g. ``"Euro area"``."""


class Retention(msgspec.Struct, kw_only=True, frozen=True):
    """Which published versions stay loadable (``retention`` in ``opendata.yaml``).

    A version is kept while it is among the last ``keep_versions`` publishes, or while it was
    current at some time in the last ``keep_days`` days; ``keep_all`` keeps every version. A
    field left out of the yaml mapping takes the default; ``0`` turns ``keep_days`` off. The
    rule itself is :func:`opendata_core.versions.retained_versions`.
    """

    keep_versions: int = 10
    keep_days: int = 90
    keep_all: bool = False


class Deprecation(msgspec.Struct, kw_only=True, frozen=True):
    """The producer's own deprecation of its dataset (``deprecated`` in ``opendata.yaml``).

    Readers are warned with ``message`` (and pointed to ``successor`` when given); the dataset
    is still published and served. A registry's operator can override it (spec §10).
    """

    message: str
    """Why, and what to use instead, in one or two sentences."""
    successor: str | None = None
    """The id of the dataset that replaces this one (``namespace/name``), if any."""


class DatasetMetadata(msgspec.Struct, kw_only=True, frozen=True):
    """The fields of ``opendata.yaml``.

    Build with :func:`load_metadata` (from a file) or :func:`validate_metadata` (from Python).
    """

    id: str
    title: str
    description: str
    license: str
    repo: str
    source: Source
    topics: list[str] = []
    geo: Geo | None = None
    owners: list[str] = []
    frequency: str | None = None
    time_column: str | None = None
    schedule: str | None = None
    partition: Partitioning | None = None
    primary_key: list[str] = []
    runner: list[str] = []
    retention: Retention | None = None
    """``None``: the default :class:`Retention` (the last 10 versions and 90 days)."""
    deprecated: Deprecation | None = None
    """The producer's deprecation of the dataset (``None``: not deprecated by the producer)."""
    registry: str | None = None
    """The OpenData registry the dataset publishes through (``https://…``); ``od deploy`` then
    writes the keyless workflow (the job's OIDC token, no storage secret)."""

    @property
    def dataset_id(self) -> DatasetId:
        """The parsed :class:`DatasetId`."""
        return DatasetId.parse(self.id)


class MetadataWarning(UserWarning):
    """A finding that is accepted, e.g. a licence that is not an SPDX identifier."""


@dataclass
class MetadataReport:
    """Everything :func:`check_metadata` found in one file."""

    path: str
    metadata: DatasetMetadata | None
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there are no errors (warnings allowed)."""
        return not self.errors

    @property
    def findings(self) -> list[Finding]:
        """Errors and warnings, in file order."""
        return sorted(self.errors + self.warnings, key=lambda f: (f.line or 0, f.column or 0))

    @property
    def problems(self) -> list[Finding]:
        """Deprecated name of :attr:`findings`."""
        from opendata_core.deprecation import renamed

        renamed("MetadataReport.problems", "MetadataReport.findings")
        return self.findings
