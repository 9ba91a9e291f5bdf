"""``od info`` shows trust, status and the audit trail; ``od search --verified/--trust`` filters
and marks deprecated datasets; a moved id's commands say so once; a withdrawn one fails."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

import opendata as od
from opendata_cli.main import cli
from opendata_core.lifecycle import TRUST_TERMS
from opendata_core.metadata import DatasetMetadata, Source
from tests.lifecycle_ops import deprecate, move_dataset, verify, withdraw

FRAME = pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-02-01"]).date, "x": [1, 2]})


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> od.Client:
    store = tmp_path / "store"
    monkeypatch.setenv("OPENDATA_STORE", str(store))
    client = od.Client(store=store)
    for i in ("old", "new", "legacy", "gone", "plain"):
        ds = f"acme/{i}"
        meta = DatasetMetadata(
            id=ds,
            title=f"Rates {i}",
            description="Exchange rates.",
            license="CC0-1.0",
            repo="https://github.com/acme/data",
            source=Source(provider="Acme"),
            time_column="date",
        )
        client.push(FRAME, ds, metadata=meta)
    verify(client, "acme/old", "verified-source", note="licence confirmed")
    move_dataset(client, "acme/old", "acme/new")  # the trust and the trail move with it
    deprecate(client, "acme/legacy", "Superseded.", successor="acme/new")
    withdraw(client, "acme/gone", reason="privacy")
    return client


def od_(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_info_shows_trust_with_its_meaning_status_and_the_audit_trail(client: od.Client) -> None:
    done = od_("info", "acme/new")
    assert done.exit_code == 0, done.output
    term = TRUST_TERMS["verified-source"]
    assert f"trust: {term.label} — {term.meaning}" in done.stdout
    assert "  granted by alice on 2026-12-07: licence confirmed" in done.stdout
    assert "status: Active" in done.stdout
    assert "previous ids: acme/old" in done.stdout
    assert (
        "lifecycle events:\n"
        "  2026-12-07 09:30 alice: verify level=verified-source — licence confirmed\n"
        "  2026-12-07 09:30 alice: move from=acme/old to=acme/new — renamed\n"
    ) in done.stdout
    assert done.stderr == ""


def test_info_of_a_moved_id_warns_once_and_shows_the_new_dataset(client: od.Client) -> None:
    done = od_("info", "acme/old")
    assert done.exit_code == 0, done.output
    assert done.stderr.splitlines() == [
        "warning: acme/old moved to acme/new: reading 'acme/new' instead; use the new id"
    ]
    assert done.stdout.startswith("acme/new — Rates new")
    assert 'load: od.load("acme/new")' in done.stdout


def test_info_of_a_deprecated_dataset(client: od.Client) -> None:
    done = od_("info", "acme/legacy")
    assert done.stderr.splitlines() == [
        "warning: acme/legacy is deprecated: Superseded. Use acme/new instead."
    ]
    assert "status: Deprecated — Superseded. Use acme/new instead." in done.stdout
    assert f"trust: {TRUST_TERMS['none'].label} — {TRUST_TERMS['none'].meaning}" in done.stdout
    data = json.loads(od_("info", "acme/legacy", "--json").stdout)
    assert data["lifecycle"]["status"] == "deprecated"
    assert data["lifecycle"]["successor"] == "acme/new"


@pytest.mark.parametrize(
    "args",
    [("info", "acme/gone"), ("get", "acme/gone", "-o", "-"), ("versions", "acme/gone")],
    ids=["info", "get", "versions"],
)
def test_a_withdrawn_dataset_fails_with_reason_and_citation(
    client: od.Client, args: tuple[str, ...]
) -> None:
    done = od_(*args)
    assert done.exit_code == 1
    (error,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert error.startswith("error: acme/gone was withdrawn on 2026-12-07 (privacy: ")
    assert "Its last version is cited as: " in error and "Rates gone" in error
    assert "hint: cite the last version as above" in done.stderr


def test_get_of_a_moved_id_writes_the_new_datasets_rows(client: od.Client, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    done = od_("get", "acme/old", "-o", str(target))
    assert done.exit_code == 0, done.output
    assert "warning: acme/old moved to acme/new" in done.stderr
    assert pd.read_csv(target)["x"].tolist() == [1, 2]


def test_search_filters_by_trust_and_marks_deprecated(
    client: od.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    narrow = od_("search", "rates").stdout  # 80 columns: the trust column gives way first
    assert "trust" not in narrow.splitlines()[0] and "[deprecated → acme/new]" in narrow
    monkeypatch.setenv("COLUMNS", "160")
    done = od_("search", "rates")
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["id", "title", "rows", "coverage", "license", "trust"]
    ids = [line.split()[0] for line in lines[1:]]
    assert sorted(ids) == ["acme/legacy", "acme/new", "acme/plain"]  # never acme/gone
    (legacy,) = [line for line in lines if line.startswith("acme/legacy")]
    assert "[deprecated → acme/new] Rates legacy" in legacy
    (new,) = [line for line in lines if line.startswith("acme/new")]
    assert new.rstrip().endswith("Verified source")
    for args in (("--verified",), ("--trust", "verified-source")):
        found = json.loads(od_("search", "rates", *args, "--json").stdout)
        assert [e["id"] for e in found] == ["acme/new"], args
    assert json.loads(od_("search", "rates", "--trust", "audited", "--json").stdout) == []


def test_search_refuses_an_unknown_trust_level(client: od.Client) -> None:
    done = od_("search", "--trust", "gold")
    assert done.exit_code == 2
    assert "'gold' is not one of 'verified-publisher', 'verified-source', 'audited'" in (
        done.stderr
    )
