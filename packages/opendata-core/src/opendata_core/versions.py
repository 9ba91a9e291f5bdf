"""A dataset's kept versions: the history chain, retention, and choosing the version asked for.

Every commit writes its manifest to ``versions/<publish_id>.json`` before the conditional write
of ``manifest.json`` (spec §8). The *history* is the chain of those entries reachable from the
current manifest through ``parent_publish_id``; an entry that no chain reaches (a commit that
failed after writing it) is never a version. The rules here are pure, so the client, ``od gc``
and the registry apply the same ones.

Example:
    >>> from datetime import UTC, datetime
    >>> h = [Version("01A0000001", datetime(2025, 1, 1, tzinfo=UTC)),
    ...      Version("01B0000002", datetime(2025, 2, 1, tzinfo=UTC), "01A0000001")]
    >>> select_version("ecb/fx", h, version="01B00000").publish_id
    '01B0000002'
    >>> select_version("ecb/fx", h, as_of=datetime(2025, 1, 15, tzinfo=UTC)).publish_id
    '01A0000001'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Final, Literal, NamedTuple

import msgspec

from opendata_core.api import PublishSummary
from opendata_core.documents import Manifest, Provenance, decode_document
from opendata_core.errors import FormatError, OpenDataError, VersionNotFound, shorten
from opendata_core.metadata import DatasetMetadata, Retention

__all__ = [
    "CITATION_STYLES",
    "DEFAULT_RETENTION",
    "MIN_PREFIX",
    "CitationStyle",
    "Version",
    "citation",
    "decode_entry",
    "entry_publish_id",
    "history_chain",
    "manifest_chain",
    "parse_as_of",
    "publish_summary",
    "retained_versions",
    "select_manifest",
    "select_version",
    "summaries",
]

DEFAULT_RETENTION: Final = Retention()
"""Without ``retention`` in ``opendata.yaml``: the last 10 versions and 90 days."""
MIN_PREFIX: Final = 8
"""The shortest ``publish_id`` prefix accepted as a version."""


class Version(NamedTuple):
    """One publish in a history: what the rules below need of a manifest."""

    publish_id: str
    published_at: datetime
    parent_publish_id: str | None = None

    @classmethod
    def of(cls, manifest: Manifest) -> Version:
        """The version a manifest (or history entry) describes."""
        return cls(manifest.publish_id, manifest.published_at, manifest.parent_publish_id)


def history_chain(current: Version, entries: Mapping[str, Version]) -> list[Version]:
    """The versions reachable from ``current`` through ``parent_publish_id``, oldest first.

    ``entries`` maps publish ids to the history entries found (``versions/*.json``). The walk
    stops at the first parent without an entry (removed by retention, or published before
    history existed) and never loops. Entries it does not reach are not versions.
    """
    chain = [current]
    seen = {current.publish_id}
    parent = current.parent_publish_id
    while parent is not None and parent in entries and parent not in seen:
        entry = entries[parent]
        chain.append(entry)
        seen.add(parent)
        parent = entry.parent_publish_id
    chain.reverse()
    return chain


def manifest_chain(current: Manifest, entries: Mapping[str, Manifest]) -> list[Manifest]:
    """:func:`history_chain` over manifests: the versions, oldest first, ``current`` last."""
    chain = history_chain(Version.of(current), {k: Version.of(m) for k, m in entries.items()})
    return [entries.get(v.publish_id, current) for v in chain[:-1]] + [current]


def entry_publish_id(key: str, prefix: str) -> str | None:
    """The publish id of a listed history entry (``<prefix><publish_id>.json``), else ``None``.

    >>> entry_publish_id("datasets/ecb/fx/versions/01AB.json", "datasets/ecb/fx/versions/")
    '01AB'
    >>> entry_publish_id("datasets/ecb/fx/versions/tmp/x.json", "datasets/ecb/fx/versions/") is None
    True
    """
    name = key[len(prefix) :] if key.startswith(prefix) else ""
    if not name.endswith(".json") or "/" in name or name == ".json":
        return None
    return name[: -len(".json")]


def decode_entry(data: bytes, dataset_id: str, publish_id: str) -> Manifest:
    """The manifest a history entry holds; it must be ``publish_id`` of ``dataset_id`` (§8.1).

    Raises:
        FormatError: not a manifest, or the manifest of another publish or dataset.
    """
    name = f"{dataset_id}/versions/{publish_id}.json"
    entry = decode_document(data, Manifest, name=name)
    if entry.publish_id != publish_id or entry.dataset_id != dataset_id:
        raise FormatError(
            f"{name}: holds publish {entry.publish_id!r} of {entry.dataset_id!r}, "
            f"not {publish_id!r} of {dataset_id!r}",
            document=name,
            field="publish_id",
        )
    return entry


def retained_versions(
    history: Sequence[Version], retention: Retention | None, now: datetime
) -> list[Version]:
    """The versions ``retention`` keeps at ``now``; ``history`` is oldest first, current last.

    A version is kept when it is one of the last ``keep_versions``, or when it was current at
    some time in the last ``keep_days`` days (its successor was published after the cut-off);
    the current version always is. The result is a suffix of ``history``: once a version is
    kept, every later one is too, so the kept chain never has a gap.

    Example:
        >>> from datetime import UTC, datetime
        >>> days = [Version(f"v{d:08}", datetime(2025, 1, d, tzinfo=UTC)) for d in range(1, 6)]
        >>> kept = retained_versions(days, Retention(keep_versions=2, keep_days=0),
        ...                          datetime(2025, 6, 1, tzinfo=UTC))
        >>> [v.publish_id for v in kept]
        ['v00000004', 'v00000005']
    """
    policy = retention or DEFAULT_RETENTION
    if policy.keep_all or not history:
        return list(history)
    first = max(0, len(history) - max(1, policy.keep_versions))
    if policy.keep_days > 0:
        cutoff = now - timedelta(days=policy.keep_days)
        for i in range(first):
            if history[i + 1].published_at > cutoff:  # current until its successor came
                first = i
                break
    return list(history[first:])


def parse_as_of(value: str | date | datetime) -> datetime:
    """An ``as_of`` moment as an aware UTC datetime.

    A datetime without a time zone, and an ISO 8601 string without one, are taken as UTC; a
    date (``"2025-03-01"``) means 00:00 UTC that day.

    Raises:
        OpenDataError: a string that is not an ISO 8601 date or date-time, or a moment outside
            the years 1-9999 in UTC.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("z", "Z"))
        except ValueError:
            raise OpenDataError(
                f"as_of={shorten(value)!r} is not an ISO 8601 date or date-time",
                hint="e.g. as_of='2025-03-01' or as_of='2025-03-01T12:00:00Z'",
            ) from None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is in year 10000 in UTC
        raise OpenDataError(
            f"as_of={shorten(value.isoformat())!r} is outside the years 1-9999 in UTC",
            hint="e.g. as_of='2025-03-01' or as_of='2025-03-01T12:00:00Z'",
        ) from None


def select_version(
    dataset_id: str,
    history: Sequence[Version],
    *,
    version: str | None = None,
    as_of: datetime | None = None,
) -> Version:
    """The version a reader asked for, from the kept ``history`` (oldest first, current last).

    ``version`` is a full ``publish_id`` or a unique prefix of at least :data:`MIN_PREFIX`
    characters (compared case-insensitively); ``as_of`` picks the version that was current at
    that moment (the last one published at or before it). Neither gives the current version.

    Raises:
        VersionNotFound: no kept version matches, the prefix matches several (``.matches``),
            or the version was removed by retention; ``.oldest_kept`` names the oldest kept one.
        OpenDataError: both ``version`` and ``as_of`` given, or a prefix that is too short.
    """
    if not history:
        raise VersionNotFound(dataset_id, f"{dataset_id}: has no published version")
    if version is not None and as_of is not None:
        raise OpenDataError(
            f"{dataset_id}: give version= or as_of=, not both",
            hint="version pins one publish; as_of picks the version current at a moment",
        )
    if as_of is not None:
        return _current_at(dataset_id, history, as_of)
    if version is None:
        return history[-1]
    return _by_publish_id(dataset_id, history, version.strip())


def _oldest_kept(history: Sequence[Version]) -> str:
    oldest = history[0]
    return f"the oldest kept version is {oldest.publish_id} ({_stamp(oldest.published_at)})"


def _current_at(dataset_id: str, history: Sequence[Version], as_of: datetime) -> Version:
    """The last version published at or before ``as_of`` (no time zone: UTC)."""
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    found = [v for v in history if v.published_at <= as_of]
    if found:
        return found[-1]
    oldest = history[0]
    if oldest.parent_publish_id is None:
        raise VersionNotFound(
            dataset_id,
            f"{dataset_id}: no version existed at {_stamp(as_of)}; the first was published "
            f"at {_stamp(oldest.published_at)} ({oldest.publish_id})",
            oldest_kept=oldest.publish_id,
        )
    raise VersionNotFound(
        dataset_id,
        f"{dataset_id}: the version current at {_stamp(as_of)} was removed by the "
        f"dataset's retention; {_oldest_kept(history)}",
        oldest_kept=oldest.publish_id,
    )


def _by_publish_id(dataset_id: str, history: Sequence[Version], wanted: str) -> Version:
    """The version whose ``publish_id`` is ``wanted`` or starts with it (unique, long enough)."""
    oldest, shown = history[0], shorten(wanted, 80)
    for v in history:
        if v.publish_id == wanted:
            return v
    if wanted == oldest.parent_publish_id:
        raise VersionNotFound(
            dataset_id,
            f"{dataset_id}: version {shown!r} was removed by the dataset's retention; "
            f"{_oldest_kept(history)}",
            version=wanted,
            oldest_kept=oldest.publish_id,
        )
    if len(wanted) < MIN_PREFIX:
        raise OpenDataError(
            f"{dataset_id}: version {shown!r} is too short: give a publish id or at least "
            f"{MIN_PREFIX} of its first characters",
            hint=f"od.Client().versions({dataset_id!r}) lists the publish ids",
        )
    folded = wanted.upper()
    matches = [v for v in history if v.publish_id.upper().startswith(folded)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise VersionNotFound(
            dataset_id,
            f"{dataset_id}: version {shown!r} matches {len(matches)} versions ("
            + ", ".join(v.publish_id for v in matches[:5])
            + ("" if len(matches) <= 5 else ", …")
            + "); give more characters",
            version=wanted,
            oldest_kept=oldest.publish_id,
            matches=[v.publish_id for v in matches],
        )
    parent = oldest.parent_publish_id
    if parent is not None and parent.upper().startswith(folded):
        reason = "was removed by the dataset's retention"
    elif parent is not None:
        reason = "is not a kept version (retention may have removed it)"
    else:
        reason = "is not a version of this dataset"
    raise VersionNotFound(
        dataset_id,
        f"{dataset_id}: version {shown!r} {reason}; {_oldest_kept(history)}",
        version=wanted,
        oldest_kept=oldest.publish_id,
    )


def select_manifest(
    dataset_id: str,
    history: Sequence[Manifest],
    *,
    version: str | None = None,
    as_of: str | date | datetime | None = None,
) -> Manifest:
    """The manifest a reader asked for: :func:`select_version` over ``history`` (oldest first).

    ``as_of`` is parsed by :func:`parse_as_of` (text, a date or a datetime).
    """
    chosen = select_version(
        dataset_id,
        [Version.of(m) for m in history],
        version=version,
        as_of=parse_as_of(as_of) if as_of is not None else None,
    )
    return next(m for m in history if m.publish_id == chosen.publish_id)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def publish_summary(
    manifest: Manifest, *, schema_changed: bool = False, provenance: Provenance | None = None
) -> PublishSummary:
    """A version as the API lists it: ``manifest.json`` without its shard list.

    ``provenance`` replaces the manifest's own (the registry takes it from a verified run).
    """
    return PublishSummary(
        publish_id=manifest.publish_id,
        published_at=manifest.published_at,
        parent_publish_id=manifest.parent_publish_id,
        row_count=manifest.row_count,
        bytes=manifest.bytes,
        shard_count=len(manifest.shards),
        min_time=manifest.min_time,
        max_time=manifest.max_time,
        time_column=manifest.time_column,
        partition=manifest.partition,
        schema=list(manifest.schema),
        schema_hash=manifest.schema_hash,
        schema_changed=schema_changed,
        provenance=manifest.provenance if provenance is None else provenance,
    )


def summaries(history: Sequence[Manifest]) -> list[PublishSummary]:
    """One summary per version of ``history`` (oldest first), in the same order.

    ``schema_changed`` compares each version with the one before it (the first has none).
    """
    return [
        publish_summary(m, schema_changed=i > 0 and history[i - 1].schema_hash != m.schema_hash)
        for i, m in enumerate(history)
    ]


CitationStyle = Literal["text", "apa", "bibtex", "cff"]
"""``text`` (the default: APA's parts plus the licence and the access date), ``apa`` (APA 7's
data set reference), ``bibtex`` (``@misc``) or ``cff`` (a ``CITATION.cff`` 1.2.0 document)."""
CITATION_STYLES: Final[tuple[CitationStyle, ...]] = ("text", "apa", "bibtex", "cff")


def citation(
    meta: DatasetMetadata,
    version: Manifest | PublishSummary,
    url: str,
    *,
    style: CitationStyle = "text",
    accessed: date | None = None,
) -> str:
    """A citation of one pinned version: title, publisher, year, version, URL, licence.

    The publisher is the original provider (``source.provider``); ``url`` is where the version
    can be retrieved. BibTeX uses ``@misc`` with a key ``<namespace>_<name>_<year>``. APA 7 needs
    no access date for a pinned version; ``text`` adds it with the licence. CFF names the licence
    only when it is an SPDX id (the CFF schema allows nothing else).

    Example:
        >>> from opendata_core.metadata import Source
        >>> meta = DatasetMetadata(id="ecb/fx", title="FX rates", description="", license="CC-BY-4.0",
        ...                        repo="https://github.com/ecb/fx", source=Source(provider="ECB"))
        >>> m = Manifest(dataset_id="ecb/fx", publish_id="20250314T153112Z-9f8e7d6c",
        ...              published_at=datetime(2025, 3, 14, tzinfo=UTC), schema=[],
        ...              schema_hash="", row_count=0, bytes=0, shards=[])
        >>> print(citation(meta, m, "s3://od/datasets/ecb/fx", accessed=date(2025, 4, 1)))
        ECB (2025). FX rates (version 20250314T153112Z-9f8e7d6c) [Data set]. OpenData dataset ecb/fx. s3://od/datasets/ecb/fx. Licence: CC-BY-4.0. Accessed 2025-04-01.
        >>> print(citation(meta, m, "https://od.example/v/1", style="apa"))
        ECB. (2025). FX rates (Version 20250314T153112Z-9f8e7d6c) [Data set]. OpenData. https://od.example/v/1
    """  # noqa: E501
    released = version.published_at.astimezone(UTC)
    year = released.year
    when = (accessed or datetime.now(UTC).date()).isoformat()
    publisher = meta.source.provider or meta.dataset_id.namespace
    if style == "text":
        return (
            f"{publisher} ({year}). {meta.title} (version {version.publish_id}) [Data set]. "
            f"OpenData dataset {meta.id}. {url}. Licence: {meta.license or 'unspecified'}. "
            f"Accessed {when}."
        )
    if style == "apa":
        author = publisher if publisher.endswith(".") else publisher + "."
        return (
            f"{author} ({year}). {meta.title} (Version {version.publish_id}) [Data set]. "
            f"OpenData. {url}"
        )
    if style == "cff":
        return _cff(meta, version, url, publisher, released.date())
    if style != "bibtex":
        raise ValueError(f"style={style!r}: use one of {', '.join(CITATION_STYLES)}")

    def tex(value: str) -> str:
        for char, escaped in (("\\", r"\textbackslash{}"), ("{", r"\{"), ("}", r"\}")):
            value = value.replace(char, escaped)
        for char in "&%$#_":
            value = value.replace(char, "\\" + char)
        return value

    key = "".join(c if c.isalnum() else "_" for c in f"{meta.id}_{year}")
    fields = [
        ("title", "{" + tex(meta.title) + "}"),
        ("author", "{" + tex(publisher) + "}"),
        ("publisher", "{" + tex(publisher) + "}"),
        ("year", str(year)),
        ("version", tex(version.publish_id)),
        ("howpublished", "OpenData dataset " + tex(meta.id)),
        ("url", url),
        ("note", "Licence: " + tex(meta.license or "unspecified") + f". Accessed {when}"),
    ]
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{key},\n{body}\n}}"


def _cff(
    meta: DatasetMetadata, version: Manifest | PublishSummary, url: str, publisher: str, day: date
) -> str:
    """``CITATION.cff`` 1.2.0 of one version; every string JSON-quoted (valid YAML)."""
    from opendata_core._reference import spdx_licenses

    def q(value: str) -> str:
        return msgspec.json.encode(value).decode()

    lines = [
        "cff-version: 1.2.0",
        f"message: {q('If you use this dataset, please cite this version as below.')}",
        "type: dataset",
        f"title: {q(meta.title)}",
        "authors:",
        f"  - name: {q(publisher)}",
        f"version: {q(version.publish_id)}",
        f"date-released: {day.isoformat()}",
        f"url: {q(url)}",
        "identifiers:",
        "  - type: url",
        f"    value: {q(url)}",
        f"    description: {q(f'OpenData dataset {meta.id}, version {version.publish_id}')}",
    ]
    if meta.license in spdx_licenses():
        lines.append(f"license: {q(meta.license)}")
    return "\n".join(lines) + "\n"
