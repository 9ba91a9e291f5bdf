"""Versions (spec §8): pinned loads, the history a commit writes, retention-aware gc, diff, cite."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import msgspec
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import opendata as od
from opendata._publish import Writer
from opendata_core import VersionNotFound, validate_metadata
from opendata_core.documents import Field, Manifest, Shard, encode_document, schema_hash
from opendata_core.ids import DatasetId
from opendata_core.metadata import DatasetMetadata, Retention
from opendata_core.versions import Version, retained_versions

DS = "me/series"
NOW = dt.timedelta(0)


def meta(retention: Retention | None = None, **extra: object) -> DatasetMetadata:
    fields: dict[str, object] = {
        "id": DS,
        "title": "A series",
        "description": "d",
        "license": "CC-BY-4.0",
        "repo": "https://github.com/me/series",
        "source": {"provider": "Me"},
        "time_column": "date",
        "primary_key": ["date"],
        "partition": "year",
        **extra,
    }
    if retention is not None:
        fields["retention"] = {
            "keep_versions": retention.keep_versions,
            "keep_days": retention.keep_days,
        }
    return validate_metadata(fields)


def days(start: str, n: int, value: float = 1.0) -> pd.DataFrame:
    dates = pd.date_range(start, periods=n, freq="D").date
    return pd.DataFrame({"date": dates, "value": [value + i for i in range(n)]})


def shortest_unique_prefix(ids: list[str], target: str) -> str:
    for n in range(8, len(target) + 1):
        if sum(i.startswith(target[:n]) for i in ids) == 1:
            return target[:n]
    return target


def frame(client: od.Client, **pin: object) -> pd.DataFrame:
    return client.load(DS, **pin).reset_index(drop=True)  # type: ignore[arg-type]


def test_five_versions_load_by_id_prefix_and_as_of_and_survive_default_gc(
    client: od.Client,
) -> None:
    pushes = [
        lambda: client.push(days("2023-12-30", 5), DS, metadata=meta()),  # replace
        lambda: client.push(days("2024-01-04", 2, 50), DS, metadata=meta(), mode="append"),
        lambda: client.push(
            days("2022-06-01", 3, 7.0), DS, metadata=meta(), allow_schema_change=True
        ),  # replace, int -> float
        lambda: client.push(
            days("2022-06-01", 3, 7.0).assign(note="x"),
            DS,
            metadata=meta(),
            allow_schema_change=True,
        ),  # schema change
        lambda: client.push(
            days("2022-06-04", 1, 9).assign(note="y"), DS, metadata=meta(), mode="append"
        ),
    ]
    ids, frames, times, changed = [], [], [], []
    for push in pushes:
        result = push()
        ids.append(result.publish_id)
        changed.append(result.schema_changed)
        frames.append(frame(client))
        times.append(client.manifest(DS).published_at)
    listed = client.versions(DS)
    assert [v.publish_id for v in listed] == ids[::-1]
    assert [v.schema_changed for v in listed] == changed[::-1]
    assert listed[1].schema_changed  # the added column
    assert [v.row_count for v in listed] == [len(f) for f in frames][::-1]
    for pid, expected, at in zip(ids, frames, times, strict=True):
        pd.testing.assert_frame_equal(frame(client, version=pid), expected)
        prefix = shortest_unique_prefix(ids, pid)
        pd.testing.assert_frame_equal(frame(client, version=prefix), expected)
        pd.testing.assert_frame_equal(frame(client, as_of=at), expected)
        pd.testing.assert_frame_equal(frame(client, as_of=at.isoformat()), expected)
    assert client.info(DS, version=ids[1]).stats.row_count == len(frames[1])
    urls = client.urls(DS, version=ids[1])
    assert {u.sha256 for u in urls} == {s.sha256 for s in client_manifest(client, ids[1]).shards}

    # Default retention (10 versions, 90 days): gc keeps version 2 and its shards.
    result = client.gc(DS, older_than=NOW)
    assert result.versions_removed == [] and result.versions_kept == 5
    pd.testing.assert_frame_equal(frame(client, version=ids[1]), frames[1])

    # A retention that drops it (set by the next publish): the pinned load fails cleanly,
    # naming the oldest kept version.
    last = client.push(
        days("2022-06-05", 1, 3).assign(note="z"),
        DS,
        metadata=meta(Retention(keep_versions=1, keep_days=0)),
        allow_schema_change=True,
    ).publish_id
    result = client.gc(DS, older_than=NOW)
    assert result.versions_removed == ids and result.versions_kept == 1
    with pytest.raises(VersionNotFound) as info:
        client.load(DS, version=ids[1])
    assert info.value.oldest_kept == last
    assert f"the oldest kept version is {last}" in str(info.value)
    with pytest.raises(VersionNotFound, match="was removed by the dataset's retention"):
        client.load(DS, version=ids[4])
    with pytest.raises(VersionNotFound, match="removed by the dataset's retention"):
        client.load(DS, as_of=times[0])
    assert [v.publish_id for v in client.versions(DS)] == [last]
    assert len(frame(client)) == 1


def client_manifest(client: od.Client, publish_id: str) -> Manifest:
    from opendata._versions import resolve

    return resolve(client._reader, DatasetId.parse(DS), publish_id)


def test_a_crash_between_history_write_and_commit_lists_nothing_new(
    client: od.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = client.push(days("2024-01-01", 3), DS, metadata=meta())
    before = frame(client)

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("killed between the history write and the commit")

    monkeypatch.setattr(Writer, "commit", crash)
    with pytest.raises(KeyboardInterrupt):
        client.push(days("2024-01-01", 5, 10), DS, metadata=meta(), allow_schema_change=True)
    monkeypatch.undo()

    prefix = client.layout.versions_prefix(DatasetId.parse(DS))
    entries = sorted(o.key[len(prefix) : -len(".json")] for o in client.store.list(prefix))
    orphan = next(e for e in entries if e != first.publish_id)
    assert [v.publish_id for v in client.versions(DS)] == [first.publish_id]
    pd.testing.assert_frame_equal(frame(client), before)
    with pytest.raises(VersionNotFound, match="is not a version of this dataset"):
        client.load(DS, version=orphan)
    # gc deletes the orphan once past the grace period, and keeps the real version
    assert client.gc(DS).deleted == []  # inside the grace period
    gone = client.gc(DS, older_than=NOW).deleted
    assert client.layout.version(DatasetId.parse(DS), orphan) in gone
    pd.testing.assert_frame_equal(frame(client, version=first.publish_id), before)


def test_history_of_a_dataset_published_before_format_1_1_is_back_filled(
    client: od.Client,
) -> None:
    first = client.push(days("2024-01-01", 3), DS, metadata=meta())
    ds = DatasetId.parse(DS)
    client.store.delete(client.layout.version(ds, first.publish_id))  # as a 1.0 writer left it
    assert [v.publish_id for v in client.versions(DS)] == [first.publish_id]
    second = client.push(days("2024-01-01", 4), DS, metadata=meta(), allow_schema_change=True)
    assert [v.publish_id for v in client.versions(DS)] == [second.publish_id, first.publish_id]
    assert len(frame(client, version=first.publish_id)) == 3


def test_diff_after_a_one_day_append_reads_only_the_changed_shard(s3_client: od.Client) -> None:
    client = s3_client
    ten_years = days("2015-01-01", 3652)  # to 2024-12-30
    v1 = client.push(ten_years, DS, metadata=meta()).publish_id
    v2 = client.push(days("2024-12-31", 1, 99), DS, metadata=meta(), mode="append").publish_id
    old, new = client_manifest(client, v1), client_manifest(client, v2)
    changed = {s.sha256 for s in old.shards} ^ {s.sha256 for s in new.shards}
    assert len(old.shards) == len(new.shards) == 10
    assert len(changed) == 2  # the 2024 shard before and after the append

    fetched: list[tuple[str, int]] = []
    original = client.store.get

    def counting_get(key: str, **kw):  # type: ignore[no-untyped-def]
        data, etag = original(key, **kw)
        fetched.append((key, len(data)))
        return data, etag

    client.store.get = counting_get  # type: ignore[method-assign]
    # Count what the diff itself reads from the store: the append's merge already put the old
    # 2024 shard in the local cache, which would hide one of the two reads.
    client.cache.enabled = False
    result = client.diff(DS, v1, v2)
    shard_bytes = sum(n for key, n in fetched if "/parts/" in key)
    assert {key.rsplit("/", 1)[1][:64] for key, _ in fetched if "/parts/" in key} == changed
    assert shard_bytes == sum(s.bytes for s in [*old.shards, *new.shards] if s.sha256 in changed)
    assert shard_bytes * 4 < new.bytes  # the changed year (twice), not the ten years
    assert (result.added, result.removed, result.changed) == (1, 0, 0)
    assert result.examples == {
        "added": [{"date": dt.date(2024, 12, 31)}],
        "removed": [],
        "changed": [],
    }
    assert (result.rows_before, result.rows_after) == (3652, 3653)
    assert result.coverage_after == ("2015-01-01", "2024-12-31")
    assert result.shards_skipped == 9 and result.bytes_read == shard_bytes
    assert not result.schema


def test_diff_reports_schema_changes_and_changed_rows(client: od.Client) -> None:
    v1 = client.push(days("2024-01-01", 3), DS, metadata=meta()).publish_id
    edited = days("2024-01-02", 3).assign(value=[2.0, 30.0, 4.0], extra=1)
    v2 = client.push(edited, DS, metadata=meta(), allow_schema_change=True).publish_id
    result = client.diff(DS, v1[:-1], v2)
    assert result.schema.added == ["extra"]
    assert (result.added, result.removed, result.changed) == (1, 1, 1)
    assert result.examples is not None
    assert result.examples["changed"] == [{"date": dt.date(2024, 1, 3)}]
    assert "1 added, 1 removed, 1 changed" in str(result)


def test_cite_a_pinned_version(client: od.Client) -> None:
    v1 = client.push(days("2024-01-01", 3), DS, metadata=meta()).publish_id
    client.push(days("2024-01-01", 4), DS, metadata=meta(), allow_schema_change=True)
    text = client.cite(DS, version=v1)
    year = client_manifest(client, v1).published_at.year
    assert text.startswith(f"Me ({year}). A series (version {v1}) [Data set].")
    assert "Licence: CC-BY-4.0" in text and f"versions/{v1}.json" in text
    bib = client.cite(DS, version=v1, style="bibtex")
    assert bib.startswith(f"@misc{{me_series_{year},") and f"version = {{{v1}}}" in bib
    apa = client.cite(DS, version=v1, style="apa")
    assert apa.startswith(f"Me. ({year}). A series (Version {v1}) [Data set]. OpenData. ")
    cff = client.cite(DS, version=v1, style="cff")
    assert f'version: "{v1}"' in cff and "type: dataset" in cff and f"versions/{v1}.json" in cff


# -- gc never deletes a shard a retained version lists (random histories) -------------------

SCHEMA = [Field(name="date", type="date32[day]", nullable=False)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    n=st.integers(1, 12),
    keep_versions=st.integers(1, 6),
    keep_days=st.integers(0, 40),
)
def test_gc_never_deletes_a_shard_a_retained_version_lists(
    data: st.DataObject, n: int, keep_versions: int, keep_days: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        client = od.Client(store=Path(tmp))
        ds = DatasetId.parse(DS)
        pool = [f"{i:064x}" for i in range(1, 16)]  # shards shared between versions at random
        now = dt.datetime.now(dt.UTC)
        at = now - dt.timedelta(days=data.draw(st.integers(0, 60)))
        history: list[Manifest] = []
        for i in range(n):
            at += dt.timedelta(hours=data.draw(st.integers(0, 200)))
            at = min(at, now)
            chosen = data.draw(st.lists(st.sampled_from(pool), unique=True, max_size=5))
            shards = [
                Shard(path=f"parts/{h}.parquet", sha256=h, rows=1, bytes=1, partition="all")
                for h in chosen
            ]
            m = Manifest(
                dataset_id=DS,
                publish_id=f"v{i:08d}",
                published_at=at,
                parent_publish_id=history[-1].publish_id if history else None,
                schema=SCHEMA,
                schema_hash=schema_hash(SCHEMA),
                row_count=len(shards),
                bytes=len(shards),
                shards=shards,
            )
            history.append(m)
            client.store.put(client.layout.version(ds, m.publish_id), encode_document(m))
        if data.draw(st.booleans()):  # an orphan of a failed commit, listing its own shards
            orphan = msgspec.structs.replace(history[-1], publish_id="orphan0001")
            client.store.put(client.layout.version(ds, "orphan0001"), encode_document(orphan))
        for h in pool:
            client.store.put(client.layout.shard(ds, h), b"x")
        client.store.put(client.layout.manifest(ds), encode_document(history[-1]))
        policy = Retention(keep_versions=keep_versions, keep_days=keep_days)
        _write_metadata(client, policy, history[-1])

        result = client.gc(DS, older_than=NOW)

        chain = [Version.of(m) for m in history]
        kept = {v.publish_id for v in retained_versions(chain, policy, dt.datetime.now(dt.UTC))}
        listed = {s.sha256 for m in history if m.publish_id in kept for s in m.shards}
        remaining = {
            o.key.rsplit("/", 1)[1][:64] for o in client.store.list(client.layout.parts_prefix(ds))
        }
        assert listed <= remaining
        assert remaining <= listed  # and everything else went (grace period 0)
        assert [v.publish_id for v in client.versions(DS)][::-1] == [
            m.publish_id for m in history if m.publish_id in kept
        ]
        assert set(result.versions_removed) == {m.publish_id for m in history} - kept


def _write_metadata(client: od.Client, policy: Retention, manifest: Manifest) -> None:
    from opendata_core.documents import MetadataDocument

    doc = MetadataDocument(
        dataset=meta(policy),
        stats=manifest.stats(),
        schema=manifest.schema,
        updated_at=manifest.published_at,
    )
    client.store.put(client.layout.metadata(DatasetId.parse(DS)), encode_document(doc))
