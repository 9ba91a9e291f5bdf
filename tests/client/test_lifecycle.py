"""Lifecycle on every read of a store (spec §10.4): moves followed with one warning, deprecations
warned, withdrawals refused; publishes to a moved or withdrawn id refused; search by trust.

Every test runs on the local folder store and on moto's S3 server (the ``client`` fixture); the
registry's side of the same behaviour is in tests/parity (the lifecycle cases).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

import opendata as od
from opendata_core.documents import encode_document
from opendata_core.ids import DatasetId
from opendata_core.lifecycle import Lifecycle
from opendata_core.metadata import DatasetMetadata, Deprecation, Source
from tests.lifecycle_ops import (
    NOW,
    deprecate,
    move_dataset,
    read,
    verify,
    withdraw,
)

OLD, NEW = "acme/fx", "acme/fx-rates"
FRAME = pd.DataFrame(
    {"date": pd.to_datetime(["2024-01-01", "2024-06-01", "2025-01-01"]).date, "x": [1, 2, 3]}
)


def meta(dataset_id: str, **extra: object) -> DatasetMetadata:
    return DatasetMetadata(
        id=dataset_id,
        title=f"Title of {dataset_id}",
        description="Rates.",
        license="CC0-1.0",
        repo=f"https://github.com/{dataset_id.split('/')[0]}/data",
        source=Source(provider="Acme"),
        time_column="date",
        **extra,  # type: ignore[arg-type]
    )


def publish(client: od.Client, dataset_id: str, **extra: object) -> None:
    client.push(FRAME, dataset_id, metadata=meta(dataset_id, **extra))


@pytest.fixture
def moved(client: od.Client) -> od.Client:
    """OLD moved to NEW (the same data published at NEW, OLD a pointer)."""
    publish(client, OLD)
    publish(client, NEW)
    move_dataset(client, OLD, NEW)
    return client


def one_warning(record: pytest.WarningsRecorder) -> str:
    assert len(record) == 1, [str(w.message) for w in record]
    w = record[0]
    assert w.category is DeprecationWarning
    assert w.filename == __file__, w.filename  # it points at the caller's line, not ours
    return str(w.message)


def test_a_moved_id_loads_the_new_dataset_with_one_warning_naming_it(moved: od.Client) -> None:
    with pytest.warns(DeprecationWarning, match="acme/") as record:
        df = moved.load(OLD, start="2024-06")
    assert one_warning(record) == (
        "acme/fx moved to acme/fx-rates: reading 'acme/fx-rates' instead; use the new id"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new id itself loads without any warning
        expected = moved.load(NEW, start="2024-06")
    pd.testing.assert_frame_equal(df, expected)
    assert df["x"].tolist() == [2, 3]


@pytest.mark.parametrize(
    "call",
    [
        lambda c, i: c.scan(i).collect().height,
        lambda c, i: [u.sha256 for u in c.urls(i)],
        lambda c, i: c.info(i).dataset.id,
        lambda c, i: [v.publish_id for v in c.versions(i)],
        lambda c, i: c.manifest(i).dataset_id,
        lambda c, i: c.cite(i).split(".")[0],
    ],
    ids=["scan", "urls", "info", "versions", "manifest", "cite"],
)
def test_every_read_of_a_moved_id_follows_it(moved: od.Client, call) -> None:  # type: ignore[no-untyped-def]
    with pytest.warns(DeprecationWarning, match="acme/") as record:
        got = call(moved, OLD)
    assert "use the new id" in one_warning(record)
    assert got == call(moved, NEW)


def test_the_module_functions_warn_at_the_callers_line(
    moved: od.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENDATA_STORE", moved.store.url + "/" + moved.layout.prefix)
    with pytest.warns(DeprecationWarning, match="acme/") as record:
        od.load(OLD)
    one_warning(record)


def test_warnings_as_errors_stop_the_load(moved: od.Client) -> None:
    """A test suite or notebook that turns DeprecationWarning into an error gets it raised."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        with pytest.raises(DeprecationWarning, match="moved to acme/fx-rates"):
            moved.load(OLD)


def test_a_chain_of_moves_is_followed_to_its_end_with_one_warning(moved: od.Client) -> None:
    publish(moved, "other/fx")
    move_dataset(moved, NEW, "other/fx")
    with pytest.warns(DeprecationWarning, match="acme/") as record:
        df = moved.load(OLD, format="arrow")
    assert "acme/fx moved to other/fx" in one_warning(record)
    assert df.num_rows == 3


def test_a_deprecated_dataset_loads_and_warns_with_its_message_and_successor(
    client: od.Client,
) -> None:
    publish(client, OLD)
    deprecate(client, OLD, "Superseded by the daily series.", successor=NEW)
    with pytest.warns(DeprecationWarning, match="acme/") as record:
        df = client.load(OLD)
    assert one_warning(record) == (
        "acme/fx is deprecated: Superseded by the daily series. Use acme/fx-rates instead."
    )
    assert len(df) == 3


def test_a_move_onto_a_deprecated_dataset_is_still_one_warning(moved: od.Client) -> None:
    deprecate(moved, NEW, "No longer updated.")
    with pytest.warns(DeprecationWarning, match="acme/") as record:
        moved.load(OLD)
    text = one_warning(record)
    assert "acme/fx moved to acme/fx-rates" in text
    assert "acme/fx-rates is deprecated: No longer updated." in text


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.load(OLD),
        lambda c: c.scan(OLD),
        lambda c: c.urls(OLD),
        lambda c: c.info(OLD),
        lambda c: c.versions(OLD),
        lambda c: c.cite(OLD),
    ],
    ids=["load", "scan", "urls", "info", "versions", "cite"],
)
def test_a_withdrawn_dataset_raises_with_reason_date_and_citation(client: od.Client, call) -> None:  # type: ignore[no-untyped-def]
    publish(client, OLD)
    cited = client.cite(OLD)
    withdraw(client, OLD, reason="licence")
    with pytest.raises(od.DatasetWithdrawn) as caught:
        call(client)
    err = caught.value
    assert isinstance(err, LookupError)
    assert (err.dataset_id, err.reason, err.withdrawn_at) == (OLD, "licence", NOW)
    assert err.citation == cited
    assert str(err).startswith(
        "acme/fx was withdrawn on 2026-12-07 (licence: the licence was revoked); its data is no "
        "longer served. Its last version is cited as: "
    )


def test_a_moved_then_withdrawn_dataset_raises_for_its_old_id_too(moved: od.Client) -> None:
    withdraw(moved, NEW, reason="privacy")
    with pytest.raises(od.DatasetWithdrawn, match="acme/fx-rates was withdrawn"):
        moved.load(OLD)


def test_lifecycle_shows_any_status_without_warning(moved: od.Client) -> None:
    verify(moved, NEW, "verified-source", note="licence confirmed")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        doc = moved.lifecycle(OLD)
    assert (doc.dataset_id, doc.status, doc.trust.level) == (NEW, "active", "verified-source")
    assert doc.previous_ids == [OLD]
    assert [e.action for e in doc.events] == ["move", "verify"]
    withdraw(moved, NEW)
    assert moved.lifecycle(NEW).status == "withdrawn"


def test_a_dataset_without_lifecycle_is_active_or_the_producers_deprecation(
    client: od.Client,
) -> None:
    publish(client, OLD)
    assert client.lifecycle(OLD) == Lifecycle(dataset_id=OLD)
    with pytest.raises(od.DatasetNotFound):
        client.lifecycle("acme/nope")


def test_a_loop_of_moves_is_a_format_error_naming_the_chain(client: od.Client) -> None:
    for a, b in ((OLD, NEW), (NEW, OLD)):
        doc = Lifecycle(dataset_id=a, status="moved", moved_to=b)
        client.store.put(client.layout.lifecycle(DatasetId.parse(a)), encode_document(doc))
    with pytest.raises(od.FormatError, match=r"never end at a dataset \(acme/fx -> acme/fx-rates"):
        client.load(OLD)


def test_an_unreadable_lifecycle_document_is_a_format_error_naming_it(client: od.Client) -> None:
    publish(client, OLD)
    client.store.put(client.layout.lifecycle(DatasetId.parse(OLD)), b'{"status": "gone"}')
    with pytest.raises(od.FormatError, match="acme/fx/lifecycle.json"):
        client.load(OLD)


def test_a_publish_to_a_moved_id_is_refused_naming_the_new_id(moved: od.Client) -> None:
    with pytest.raises(od.PermissionDenied, match="acme/fx moved to acme/fx-rates") as caught:
        publish(moved, OLD)
    assert caught.value.hint is not None and "id: acme/fx-rates" in caught.value.hint
    assert (
        read(moved, OLD) is not None
        and moved.store.exists(moved.layout.manifest(DatasetId.parse(OLD))) is False
    )  # nothing was written


def test_a_publish_to_a_withdrawn_dataset_is_refused(client: od.Client) -> None:
    publish(client, OLD)
    withdraw(client, OLD)
    with pytest.raises(od.PermissionDenied, match="acme/fx was withdrawn on 2026-12-07"):
        publish(client, OLD)


def test_the_producers_deprecation_in_the_yaml_is_written_and_warned(client: od.Client) -> None:
    publish(client, OLD, deprecated=Deprecation(message="Use the new one.", successor=NEW))
    doc = read(client, OLD)
    assert doc is not None and (doc.status, doc.status_by, doc.successor) == (
        "deprecated",
        "producer",
        NEW,
    )
    with pytest.warns(DeprecationWarning, match="Use the new one. Use acme/fx-rates instead."):
        client.load(OLD)
    (entry,) = client.search("fx")
    assert (entry.status, entry.successor) == ("deprecated", NEW)
    client.push(FRAME.assign(x=[4, 5, 6]), OLD, metadata=meta(OLD))  # the field removed
    assert read(client, OLD).status == "active"  # type: ignore[union-attr]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client.load(OLD)


def test_an_operators_status_stands_over_the_yaml(client: od.Client) -> None:
    publish(client, OLD)
    deprecate(client, OLD, "Operator says no.")
    publish(client, OLD, deprecated=Deprecation(message="Producer says so."))
    assert read(client, OLD).message == "Operator says no."  # type: ignore[union-attr]


def test_search_filters_by_trust_and_never_finds_withdrawn(client: od.Client) -> None:
    for i, level in enumerate(("none", "verified-publisher", "verified-source", "audited")):
        publish(client, f"acme/set{i}")
        if level != "none":
            verify(client, f"acme/set{i}", level)
    publish(client, "acme/gone")
    withdraw(client, "acme/gone")

    def ids(**kw: object) -> list[str]:
        return sorted(e.id for e in client.search("", **kw))  # type: ignore[arg-type]

    assert ids() == ["acme/set0", "acme/set1", "acme/set2", "acme/set3"]
    assert ids(trust="verified-source") == ["acme/set2", "acme/set3"]
    assert ids(trust="audited") == ["acme/set3"]
    assert ids(trust="none") == ids()
    assert "acme/gone" in [e.id for e in client.list()]  # still listed by id, as a tombstone
    with pytest.raises(ValueError, match="trust='gold': use one of none, verified-publisher"):
        client.search("", trust="gold")  # type: ignore[arg-type]


def test_a_lapsed_review_counts_as_not_verified_in_search(client: od.Client) -> None:
    from datetime import date

    from opendata_core.lifecycle import Verify
    from tests.lifecycle_ops import apply

    publish(client, OLD)
    apply(client, OLD, Verify(level="audited", review_by=date(2020, 1, 1)))
    assert client.search("", trust="verified-publisher") == []


def test_index_rebuild_carries_status_and_trust(client: od.Client, tmp_path: Path) -> None:
    publish(client, OLD)
    verify(client, OLD, "audited")
    deprecate(client, OLD, "Old.", successor=NEW)
    (entry,) = client.index.rebuild().datasets
    assert (entry.trust, entry.status, entry.successor) == ("audited", "deprecated", NEW)


def _engine_options(client: od.Client) -> dict[str, str]:
    return {
        "store": client.store.url + (f"/{client.layout.prefix}" if client.layout.prefix else "")
    }


def test_opendata_urls_of_a_moved_id_read_the_new_dataset_with_one_warning(
    moved: od.Client,
) -> None:
    """Engines reading ``opendata://`` resolve like the client (spec §10.4)."""
    import fsspec
    import pyarrow.parquet as pq

    fs, path = fsspec.core.url_to_fs(f"opendata://{OLD}", **_engine_options(moved))
    with pytest.warns(DeprecationWarning, match="acme/") as record:
        table = pq.read_table(path, filesystem=fs)
    assert len(record) == 1 and "acme/fx moved to acme/fx-rates" in str(record[0].message)
    assert table.num_rows == 3


def test_opendata_urls_of_a_withdrawn_dataset_raise(client: od.Client) -> None:
    import fsspec

    publish(client, OLD)
    withdraw(client, OLD)
    fs, path = fsspec.core.url_to_fs(f"opendata://{OLD}", **_engine_options(client))
    with pytest.raises(od.DatasetWithdrawn, match="acme/fx was withdrawn"):
        fs.ls(path)
