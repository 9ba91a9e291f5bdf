"""A fresh machine: "not found" names the store searched and gives shell commands (issue 7.12)."""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner

from opendata_cli.main import cli


def test_not_found_in_an_empty_store_gives_shell_commands() -> None:
    store = Path(os.environ["OPENDATA_HOME"]) / "store"
    result = CliRunner().invoke(cli, ["get", "ecb/euro-fx-reference-rates", "-o", "x.csv"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == (
        f"error: dataset 'ecb/euro-fx-reference-rates' not found: the store {store} holds no "
        "datasets"
    )
    assert lines[1] == (
        f"hint: run `OPENDATA_HOME={store.parent} od demo --no-serve` to publish the example "
        "datasets into it, or read another store: `od get --store s3://bucket/prefix ...` or "
        "`export OPENDATA_STORE=s3://bucket/prefix`"
    )


def test_not_found_in_a_populated_store_suggests_od_search(tmp_path: Path) -> None:
    import pandas as pd

    import opendata as od

    od.push(pd.DataFrame({"x": [1]}), "me/x")
    result = CliRunner().invoke(cli, ["info", "other/thing"])
    assert result.exit_code == 1
    assert "error: dataset 'other/thing' not found in the store " in result.output
    assert result.output.splitlines()[1] == (
        "hint: search it with `od search WORDS`, or read another store: --store or OPENDATA_STORE"
    )
