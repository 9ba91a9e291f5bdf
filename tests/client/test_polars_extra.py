"""polars is an extra (opendata-client[polars]): without it od.load works and od.scan and
format="polars" say which extra to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import sys
    sys.modules["polars"] = None  # as if polars were not installed
    import datetime as dt
    import pyarrow as pa
    import opendata as od

    client = od.Client(store=sys.argv[1])
    client.push(pa.table({"date": [dt.date(2024, 1, 1)], "n": [1]}), "me/x", time_column="date")
    print("load", client.load("me/x")["n"].tolist())
    for name, call in [
        ("scan", lambda: client.scan("me/x")),
        ("load-polars", lambda: client.load("me/x", format="polars")),
    ]:
        try:
            call()
        except ImportError as err:
            print(name, type(err.__cause__).__name__, err)
        else:
            print(name, "no error")
    """
)


def test_without_polars_load_works_and_scan_names_the_extra(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "store")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out[0] == "load [1]"
    extra = "pip install 'opendata-client[polars]'"
    assert out[1].startswith(
        "scan ModuleNotFoundError od.scan needs polars, which is not installed"
    )
    assert out[1].endswith(extra + " (or pip install polars)")
    assert out[2].startswith('load-polars ModuleNotFoundError format="polars" needs polars')
    assert extra in out[2]
    assert len(out) == 3
