"""`od run`: what a newcomer meets — every failure is one line, classified, recorded, and publishes
nothing; a success publishes and records."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import opendata
from opendata_cli._runner import classify
from opendata_cli.main import cli
from opendata_core.documents import RunRecord, decode_document
from opendata_core.errors import (
    ConflictError,
    DatasetNotFound,
    PermissionDenied,
    StoreUnavailable,
)

DATASET = "acme/widgets"
YAML = """\
id: acme/widgets
title: Widgets
description: All the widgets.
license: MIT
repo: https://github.com/acme/widgets
source:
  provider: Acme
time_column: date
primary_key: [date, shop]
"""
GOOD_MAIN = """\
import pandas as pd


def main():
    return pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-02"]),
            "shop": ["a", "b", "a"],
            "sold": [1, 2, 3],
        }
    )
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "widgets"
    folder.mkdir()
    (folder / "opendata.yaml").write_text(YAML)
    (folder / "main.py").write_text(GOOD_MAIN)
    return folder


def write_main(folder: Path, body: str) -> None:
    (folder / "main.py").write_text(textwrap.dedent(body))


def od(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def records(dataset: str = DATASET) -> list[RunRecord]:
    client = opendata.Client()
    from opendata_core.ids import DatasetId

    prefix = client.layout.runs_prefix(DatasetId.parse(dataset))
    keys = sorted(o.key for o in client.store.list(prefix))
    found = [decode_document(bytes(client.store.get(k)[0]), RunRecord) for k in keys]
    return sorted(found, key=lambda r: r.started_at)


def assert_one_error_line(result: Result, *fragments: str) -> str:
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1, result.output
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def assert_nothing_published(dataset: str = DATASET) -> None:
    with pytest.raises(DatasetNotFound):
        opendata.Client().load(dataset)


# ---------------------------------------------------------------------------------------------
# Success


def test_success_publishes_and_writes_a_run_record(project: Path) -> None:
    result = od("run", str(project))
    assert result.exit_code == 0, result.output
    assert "main() returned 3 rows × 3 columns" in result.stdout
    assert "published acme/widgets: 3 rows, 2024-01-01T00:00:00 .. 2024-01-02T00:00:00" in (
        result.stdout
    )
    assert 'od.load("acme/widgets")' in result.stdout
    assert result.stderr == ""
    df = opendata.load(DATASET)
    assert df["sold"].tolist() == [1, 2, 3]
    (record,) = records()
    assert record.status == "success"
    assert record.error_class is None
    assert record.stats is not None and record.stats.row_count == 3
    assert record.stats.shard_count == 1
    assert record.publish_id is not None
    assert record.provenance.repo == "https://github.com/acme/widgets"
    assert record.provenance.commit is None


def test_default_path_is_the_current_folder(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    assert od("run").exit_code == 0
    assert len(opendata.load(DATASET)) == 3


def test_main_runs_in_its_folder_and_can_import_siblings(project: Path) -> None:
    (project / "helpers.py").write_text("ROWS = 2\n")
    (project / "local.csv").write_text("date,shop,sold\n2024-01-01,a,1\n2024-01-02,a,2\n")
    write_main(
        project,
        """\
        import pandas as pd
        from helpers import ROWS


        def main():
            df = pd.read_csv("local.csv", parse_dates=["date"])
            assert len(df) == ROWS
            return df
        """,
    )
    result = od("run", str(project / "opendata.yaml"))
    assert result.exit_code == 0, result.output
    assert len(opendata.load(DATASET)) == 2


def test_each_producer_gets_its_own_helper_modules(tmp_path: Path) -> None:
    for n in (1, 2):
        folder = tmp_path / f"p{n}"
        folder.mkdir()
        (folder / "opendata.yaml").write_text(YAML.replace("acme/widgets", f"acme/p{n}"))
        (folder / "helpers.py").write_text(f"SOLD = {n}\n")
        write_main(
            folder,
            """\
            import pandas as pd
            from helpers import SOLD
            def main():
                return pd.DataFrame({"date": pd.to_datetime(["2024-01-01"]), "shop": ["a"], "sold": [SOLD]})
            """,
        )
        assert od("run", str(folder)).exit_code == 0
    assert opendata.load("acme/p1")["sold"].tolist() == [1]
    assert opendata.load("acme/p2")["sold"].tolist() == [2]


@pytest.mark.parametrize(
    "body",
    [
        # a named index (set_index) is data, not dropped
        """\
        import pandas as pd
        def main():
            df = pd.DataFrame({"date": pd.to_datetime(["2024-01-01"]), "shop": ["a"], "sold": [1]})
            return df.set_index(["date", "shop"])
        """,
        # polars
        """\
        import datetime as dt, polars as pl
        def main():
            return pl.DataFrame({"date": [dt.date(2024, 1, 1)], "shop": ["a"], "sold": [1]})
        """,
        # pyarrow
        """\
        import datetime as dt, pyarrow as pa
        def main():
            return pa.table({"date": [dt.date(2024, 1, 1)], "shop": ["a"], "sold": [1]})
        """,
        # a generator of pages
        """\
        import pandas as pd
        def main():
            for day in ["2024-01-01"]:
                yield pd.DataFrame({"date": pd.to_datetime([day]), "shop": ["a"], "sold": [1]})
        """,
    ],
    ids=["pandas-index", "polars", "arrow", "generator"],
)
def test_accepted_return_types(project: Path, body: str) -> None:
    write_main(project, body)
    result = od("run", str(project))
    assert result.exit_code == 0, result.output
    df = opendata.load(DATASET)
    assert list(df.columns) == ["date", "shop", "sold"]
    assert df["sold"].tolist() == [1]


STREAMS = {
    "polars-lazy": """\
        import polars as pl
        def main():
            print("a line of the producer's own")  # not in od run's --json output
            return pl.scan_csv("sales.csv", try_parse_dates=True).with_columns(sold=pl.col("n") * 2)
        """,
    "record-batch-reader": """\
        import pyarrow as pa, pyarrow.csv as csv
        def main():
            return csv.open_csv("sales.csv", read_options=csv.ReadOptions(block_size=64))
        """,
    "generator-reading-files": """\
        import pandas as pd
        def main():
            for chunk in pd.read_csv("sales.csv", parse_dates=["date"], chunksize=2):
                print("page", len(chunk))
                yield chunk
        """,
}


@pytest.mark.parametrize("body", list(STREAMS.values()), ids=list(STREAMS))
def test_a_stream_from_main_is_published_from_the_producers_folder(
    project: Path, body: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A LazyFrame, a RecordBatchReader or a generator: read by the push batch by batch, in the
    producer's folder (a relative path works), its prints kept out of the JSON output."""
    (project / "sales.csv").write_text(
        "date,shop,n\n2024-01-01,a,1\n2024-01-02,a,2\n2024-01-01,b,3\n2025-01-03,a,4\n"
        "2024-03-01,b,5\n"
    )
    write_main(project, body)
    monkeypatch.chdir(tmp_path)
    result = od("run", str(project), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["status"] == "success" and out["rows"] == 5
    df = opendata.load(DATASET)
    assert df["date"].astype(str).tolist() == [
        "2024-01-01",
        "2024-01-01",
        "2024-01-02",
        "2024-03-01",
        "2025-01-03",
    ]
    assert df["shop"].tolist() == ["a", "b", "a", "b", "a"]


def test_a_lazy_frame_that_fails_is_the_producers_failure(project: Path) -> None:
    write_main(
        project,
        """\
        import polars as pl
        def main():
            return pl.scan_csv("missing.csv")
        """,
    )
    result = od("run", str(project))
    assert result.exit_code == 1, result.output
    assert "missing.csv" in result.stderr and "nothing was published" in result.stderr
    (record,) = records()
    assert record.status == "failure" and record.publish_id is None
    assert_nothing_published()


def test_a_generators_bad_page_is_named_and_publishes_nothing(project: Path) -> None:
    write_main(
        project,
        """\
        import pandas as pd
        def main():
            yield pd.DataFrame({"date": [pd.Timestamp(2024, 1, 1)], "shop": "a", "sold": 1})
            yield {"date": "2024-01-02"}
        """,
    )
    result = od("run", str(project))
    assert result.exit_code == 1, result.output
    assert_one_error_line(result, "main() returned an iterable whose item 2 is a dict")
    assert_nothing_published()


def test_pages_are_concatenated(project: Path) -> None:
    write_main(
        project,
        """\
        import pandas as pd
        def main():
            return [
                pd.DataFrame({"date": pd.to_datetime([d]), "shop": ["a"], "sold": [i]})
                for i, d in enumerate(["2024-01-01", "2024-01-02", "2025-01-01"])
            ]
        """,
    )
    assert od("run", str(project)).exit_code == 0
    assert opendata.load(DATASET)["sold"].tolist() == [0, 1, 2]


def test_main_that_pushes_itself(project: Path) -> None:
    write_main(
        project,
        """\
        import pandas as pd
        import opendata as od
        def main():
            df = pd.DataFrame({"date": pd.to_datetime(["2024-01-01"]), "shop": ["a"], "sold": [7]})
            od.push(df, "acme/widgets", metadata="opendata.yaml")
        """,
    )
    result = od("run", str(project))
    assert result.exit_code == 0, result.output
    assert "main() published acme/widgets itself (1 rows" in result.stdout
    assert opendata.load(DATASET)["sold"].tolist() == [7]
    (record,) = records()
    assert record.status == "success"
    assert record.stats is not None
    assert record.publish_id is not None


def test_main_returning_none_without_pushing(project: Path) -> None:
    write_main(project, "def main():\n    pass\n")
    result = od("run", str(project))
    assert result.exit_code == 1
    line = assert_one_error_line(result, "main() returned None and published nothing")
    assert line.startswith("error [validation]: "), line
    assert records()[0].error_class == "validation"


def test_a_schema_change_is_refused_unless_allowed(project: Path) -> None:
    assert od("run", str(project)).exit_code == 0
    write_main(project, GOOD_MAIN.replace('"sold": [1, 2, 3]', '"sold": [1.5, 2, 3], "x": 1'))
    dry = od("run", "--dry-run", str(project))
    assert dry.exit_code == 0
    assert (
        "warning: the schema differs from the last publish: added x; retyped sold (int64 -> double)"
        in dry.stderr
    )
    live = opendata.Client().manifest(DATASET).publish_id
    refused = od("run", str(project))
    assert refused.exit_code == 1
    line = assert_one_error_line(refused, "added x; retyped sold (int64 -> double)")
    assert line.startswith("error [validation]: "), line
    assert "--allow-schema-change" in refused.stderr
    assert opendata.Client().manifest(DATASET).publish_id == live  # nothing was published
    result = od("run", "--allow-schema-change", str(project))
    assert result.exit_code == 0
    assert "warning: the schema changed since the last publish: added x; retyped sold" in (
        result.stderr
    )
    assert [(r.status, r.schema_changed) for r in records()] == [
        ("success", False),
        ("failure", False),
        ("success", True),
    ]
    # The producer guide shows these exact lines.
    guide = (Path(__file__).resolve().parents[2] / "docs" / "producer-guide.md").read_text()
    for output in (dry.stderr, refused.stderr, result.stderr):
        (message, *_) = [line for line in output.splitlines() if "schema" in line]
        assert f"\n{message}\n" in guide, message
    # Re-running unchanged data commits nothing and reports no drift.
    again = od("run", str(project))
    assert "nothing new was committed" in again.stdout
    assert "warning" not in again.stderr


# ---------------------------------------------------------------------------------------------
# Producer failures: exit 1, one line, a failure record, nothing published


def test_broken_yaml(project: Path) -> None:
    (project / "opendata.yaml").write_text(YAML + "primary_key: [\n")
    result = od("run", str(project))
    assert result.exit_code == 1
    line = assert_one_error_line(result, "opendata.yaml:", "invalid YAML")
    assert str(project / "opendata.yaml") in line
    assert "hint: `od validate` lists every problem" in result.stderr
    assert_nothing_published()


def test_invalid_yaml_field(project: Path) -> None:
    (project / "opendata.yaml").write_text(YAML.replace("time_column", "time_colum"))
    result = od("run", str(project))
    assert result.exit_code == 1
    assert_one_error_line(result, "unknown field 'time_colum'", "did you mean 'time_column'?")


def test_no_opendata_yaml(tmp_path: Path) -> None:
    result = od("run", str(tmp_path))
    assert result.exit_code == 1
    assert_one_error_line(result, f"no opendata.yaml in {tmp_path}")
    assert "od init" in result.stderr


def test_main_py_missing(project: Path) -> None:
    (project / "main.py").unlink()
    result = od("run", str(project))
    assert result.exit_code == 1
    assert_one_error_line(result, f"no main.py in {project}")
    assert "hint: create it with a main()" in result.stderr
    assert records()[0].error_class == "validation"
    assert_nothing_published()


@pytest.mark.parametrize(
    ("body", "message", "hint"),
    [
        ("x = 1\n", "main.py does not define main()", "def main():"),
        ("def main(url):\n    pass\n", "main() must take no arguments, but it needs url", None),
        ("def main(x, /):\n    pass\n", "main() must take no arguments, but it needs x", None),
        ("def main(*, key):\n    pass\n", "main() must take no arguments, but it needs key", None),
        ("def main(:\n", "main.py:1: SyntaxError:", "fix the syntax error"),
        (
            "import no_such_package_xyz\n",
            "main.py:1: imports 'no_such_package_xyz', which is not installed",
            "check the spelling of 'no_such_package_xyz'",
        ),
        ("def main():\n    return {'a': [1]}\n", "main() returned a dict", "pandas or polars"),
        ("def main():\n    return 'data.csv'\n", "main() returned a str", None),
    ],
    ids=[
        "no-main",
        "arguments",
        "positional-only",
        "keyword-only",
        "syntax",
        "missing-package",
        "dict",
        "str",
    ],
)
def test_main_py_contract(project: Path, body: str, message: str, hint: str | None) -> None:
    (project / "main.py").write_text(body)
    result = od("run", str(project))
    assert result.exit_code == 1
    assert_one_error_line(result, message)
    if hint:
        assert hint in result.stderr
    (record,) = records()
    assert record.status == "failure"
    assert record.message is not None and message in record.message
    assert_nothing_published()


@pytest.mark.parametrize(
    ("body", "error_class", "fragment"),
    [
        (
            """\
            import pandas as pd
            def main():
                return pd.DataFrame({"value": [float("n/a")]})
            """,
            "parse",
            "main.py:3: ValueError: could not convert string to float: 'n/a'",
        ),
        (
            """\
            def main():
                row = {"observation_date": "2024-01-01"}
                return row["DATE"]
            """,
            "parse",
            "main.py:3: KeyError: missing key 'DATE'",
        ),
        (
            """\
            import io, pandas as pd
            def main():
                return pd.read_csv(io.StringIO('a,b\\n1,2,3,4\\n5\\n"'))
            """,
            "parse",
            "ParserError",
        ),
        (
            """\
            def main():
                raise RuntimeError("the site changed")
            """,
            "unknown",
            "main.py:2: RuntimeError: the site changed",
        ),
        (
            """\
            raise RuntimeError("at import time")
            """,
            "unknown",
            "main.py:1: RuntimeError: at import time",
        ),
        (
            """\
            import sys
            def main():
                sys.exit(3)
            """,
            "unknown",
            "main.py:3: RuntimeError: main() called sys.exit(3)",
        ),
        (
            """\
            import pandas as pd
            def main():
                yield pd.DataFrame({"date": [pd.Timestamp(2024, 1, 1)], "shop": "a", "sold": 1})
                raise ValueError("page 2 is garbage")
            """,
            "parse",
            "main.py:4: ValueError: page 2 is garbage",
        ),
    ],
    ids=["value", "key", "pandas-parser", "runtime", "import", "sys-exit", "generator"],
)
def test_main_raising_is_one_line_recorded_and_publishes_nothing(
    project: Path, body: str, error_class: str, fragment: str
) -> None:
    write_main(project, body)
    result = od("run", str(project))
    assert result.exit_code == 1, result.output
    assert_one_error_line(result, fragment)
    assert "nothing was published" in result.stderr
    (record,) = records()
    assert record.status == "failure"
    assert record.error_class == error_class
    assert record.message is not None and fragment in record.message
    assert record.stats is None and record.publish_id is None
    assert_nothing_published()


def test_network_error(project: Path, closed_port: int) -> None:
    port = closed_port
    write_main(
        project,
        f"""\
        import httpx
        def main():
            response = httpx.get("http://127.0.0.1:{port}/data.csv", timeout=5)
            response.raise_for_status()
        """,
    )
    result = od("run", str(project))
    assert result.exit_code == 1
    line = assert_one_error_line(result, f"ConnectError: GET http://127.0.0.1:{port}/data.csv")
    # The terminal line names the class, as the run record and the annotation do.
    assert line.startswith("error [network]: main.py:3: ConnectError"), line
    assert records()[0].error_class == "network"
    assert_nothing_published()


def test_http_status_error_is_network(project: Path) -> None:
    write_main(
        project,
        """\
        import httpx
        def main():
            request = httpx.Request("GET", "https://example.org/data.csv")
            response = httpx.Response(503, request=request)
            response.raise_for_status()
        """,
    )
    result = od("run", str(project))
    assert result.exit_code == 1
    assert_one_error_line(
        result, "HTTPStatusError: GET https://example.org/data.csv: 503 Service Unavailable"
    )
    assert records()[0].error_class == "network"


def test_wrapped_network_error_is_still_network(project: Path) -> None:
    write_main(
        project,
        """\
        def main():
            try:
                raise ConnectionResetError("peer went away")
            except OSError as exc:
                raise RuntimeError("download failed") from exc
        """,
    )
    od("run", str(project))
    assert records()[0].error_class == "network"


# ---------------------------------------------------------------------------------------------
# Our checks: exit 1, validation


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        (
            """\
            import pandas as pd
            def main():
                return pd.DataFrame({"date": pd.Series([], dtype="datetime64[ns]"), "shop": []})
            """,
            ["refusing to publish an empty table (0 rows); nothing was published"],
        ),
        (
            "def main():\n    return []\n",
            ["refusing to publish an empty table (0 rows); nothing was published"],
        ),
        (
            """\
            import pandas as pd
            def main():
                return pd.DataFrame({"day": pd.to_datetime(["2024-01-01"]), "shop": ["a"]})
            """,
            [
                "acme/widgets: no column 'date'; columns are: day, shop",
            ],
        ),
        (
            """\
            import pandas as pd
            def main():
                return pd.DataFrame({"date": ["2024-01-01"], "shop": ["a"]})
            """,
            ["the time column 'date' has type large_string, not a date or timestamp"],
        ),
        (
            """\
            import pandas as pd
            def main():
                return pd.DataFrame({"date": pd.to_datetime(["2024-01-01", None]), "shop": ["a", "b"]})
            """,
            ["the time column 'date' has 1 empty value(s)"],
        ),
        (
            """\
            import pandas as pd
            def main():
                return pd.DataFrame({"date": pd.to_datetime(["2024-01-01"]), "store": ["a"]})
            """,
            ["acme/widgets: no column 'shop'; columns are: date, store"],
        ),
        (
            """\
            import pandas as pd
            def main():
                return pd.DataFrame(
                    {
                        "date": pd.to_datetime(["2024-01-01"] * 3 + ["2024-01-02"] * 2 + ["2024-01-03"]),
                        "shop": ["a", "a", "a", "b", "b", "c"],
                    }
                )
            """,
            [
                "primary key (date, shop) is not unique: 3 duplicate row(s) over 2 key(s)",
                "e.g. date=2024-01-01T00:00:00, shop='a' appears 3 times",
            ],
        ),
        (
            """\
            import pandas as pd
            def main():
                return pd.DataFrame({"date": pd.to_datetime(["2024-01-01"]), "shop": [None]})
            """,
            ["primary key column 'shop' has 1 empty value(s)"],
        ),
        (
            """\
            import pandas as pd
            def main():
                return pd.DataFrame({"date": pd.to_datetime(["2024-01-01"]), "shop": ["a"], "x": [object()]})
            """,
            ["the data cannot be stored"],
        ),
        (
            """\
            import pandas as pd
            def main():
                yield pd.DataFrame({"date": pd.to_datetime(["2024-01-01"]), "shop": ["a"]})
                yield pd.DataFrame({"date": ["2024-01-02"], "shop": ["a"]})
            """,
            ["column 'date' of batch 2 is large_string", "the first batch's is timestamp"],
        ),
    ],
    ids=[
        "empty-frame",
        "empty-list",
        "missing-time-column",
        "string-time-column",
        "null-time",
        "missing-key-column",
        "duplicate-key",
        "null-key",
        "mixed-types",
        "pages-disagree",
    ],
)
def test_checks_fail_with_one_line_and_publish_nothing(
    project: Path, body: str, fragments: list[str]
) -> None:
    write_main(project, body)
    result = od("run", str(project))
    assert result.exit_code == 1, result.output
    assert_one_error_line(result, *fragments)
    (record,) = records()
    assert record.status == "failure"
    assert record.error_class == "validation"
    assert_nothing_published()


def test_failed_check_keeps_the_last_good_version(project: Path) -> None:
    assert od("run", str(project)).exit_code == 0
    write_main(project, "import pandas as pd\ndef main():\n    return pd.DataFrame()\n")
    assert od("run", str(project)).exit_code == 1
    assert opendata.load(DATASET)["sold"].tolist() == [1, 2, 3]
    assert [r.status for r in records()] == ["success", "failure"]


# ---------------------------------------------------------------------------------------------
# --dry-run


def test_dry_run_publishes_nothing_and_writes_no_record(project: Path) -> None:
    result = od("run", "--dry-run", str(project))
    assert result.exit_code == 0, result.output
    assert "dry run: acme/widgets passed the checks (3 rows" in result.stdout
    assert "nothing was published" in result.stdout
    assert_nothing_published()
    assert records() == []


def test_dry_run_still_fails_checks(project: Path) -> None:
    write_main(project, "import pandas as pd\ndef main():\n    return pd.DataFrame()\n")
    result = od("run", "--dry-run", str(project))
    assert result.exit_code == 1
    assert_one_error_line(result, "refusing to publish an empty table (0 rows)")
    assert records() == []


def test_dry_run_with_a_main_that_pushes_itself(project: Path) -> None:
    write_main(
        project,
        """\
        import pandas as pd
        import opendata as od
        def main():
            df = pd.DataFrame({"date": pd.to_datetime(["2024-01-01"]), "shop": ["a"], "sold": [7]})
            od.push(df, "acme/widgets", metadata="opendata.yaml")
        """,
    )
    result = od("run", "--dry-run", str(project))
    assert result.exit_code == 0, result.output
    assert "scratch store" in result.stderr
    assert_nothing_published()
    assert records() == []


# ---------------------------------------------------------------------------------------------
# Publish failures: exit 3 (2 is click's usage error)


def test_unwritable_store_exits_3(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    # Works for root too (a chmod would not stop root): the store's path runs through a file.
    monkeypatch.setenv("OPENDATA_STORE", str(blocker / "store"))
    result = od("run", str(project))
    assert result.exit_code == 3, result.output
    assert_one_error_line(result, "error [upload]: publishing failed: NotADirectoryError")
    assert "warning: could not write the run record" in result.stderr
    assert "nothing was published; the last version is intact" in result.stderr


@pytest.mark.usefixtures("unreachable_s3_store")
def test_unreachable_s3_store_exits_3(project: Path) -> None:
    (project / "main.py").write_text("raise AssertionError('main.py must not run')\n")
    result = od("run", "--json", str(project))
    assert result.exit_code == 3, result.output
    out = json.loads(result.stdout)
    assert out["error_class"] == "upload"
    assert out["exit_code"] == 3
    assert out["message"].startswith("cannot open the store: store s3://od-bucket unavailable")
    assert "cannot connect to the endpoint http://127.0.0.1:" in out["message"]
    # The run record is kept in the dataset folder, and shown (an annotation in GitHub Actions).
    (path,) = (project / ".opendata").rglob("*.json")
    assert out["run_record"] == str(path)
    record = decode_document(path.read_bytes(), RunRecord)
    assert (record.status, record.error_class) == ("failure", "upload")
    assert any("run record was kept in" in w and '"status":"failure"' in w for w in out["warnings"])


def test_unopenable_store_in_github_actions_annotates_the_record(
    project: Path, github: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENDATA_STORE", "r2://bucket")  # no R2_ACCOUNT_ID: cannot open
    result = od("run", str(project))
    assert result.exit_code == 3, result.output
    assert "::warning title=od run%3A acme/widgets::the store could not be opened" in result.stdout
    assert "::error title=" in result.stdout


def test_dry_run_does_not_need_the_store(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENDATA_STORE", "r2://bucket")  # no R2_ACCOUNT_ID: cannot open
    result = od("run", "--dry-run", str(project))
    assert result.exit_code == 0, result.output
    assert "schema drift not checked" in result.stderr


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (PermissionDenied("no"), ("permission", 3)),
        (StoreUnavailable("s3://b", "down"), ("upload", 3)),
        (StoreUnavailable("s3://b", "no such bucket", reason="no-bucket"), ("upload", 3)),
        (StoreUnavailable("s3://b", "timed out", reason="timeout"), ("network", 3)),
        (StoreUnavailable("s3://b", "connection refused", reason="unreachable"), ("network", 3)),
        (ConflictError("a/b"), ("upload", 3)),
        (ConnectionRefusedError(), ("network", 1)),
        (TimeoutError(), ("network", 1)),
        (KeyError("x"), ("parse", 1)),
        (ValueError("x"), ("parse", 1)),
        (RuntimeError("x"), ("unknown", 1)),
    ],
)
def test_classify(exc: BaseException, expected: tuple[str, int]) -> None:
    assert classify(exc) == expected


# ---------------------------------------------------------------------------------------------
# GitHub Actions, --json, debug


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    summary = tmp_path / "step-summary.md"
    for k, v in {
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_SHA": "3f2c9e1d8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/widgets",
        "GITHUB_RUN_ID": "13872245109",
        "GITHUB_RUN_ATTEMPT": "1",
    }.items():
        monkeypatch.setenv(k, v)
    return summary


def test_github_actions_success(project: Path, github: Path) -> None:
    result = od("run", str(project))
    assert result.exit_code == 0, result.output
    assert (
        "::notice title=Published acme/widgets::3 rows, 2024-01-01T00:00:00 .. 2024-01-02T00:00:00"
        in result.stdout
    )
    summary = github.read_text()
    assert "### ✅ Published `acme/widgets`" in summary
    for row in (
        "| rows | 3 |",
        "| coverage | 2024-01-01T00:00:00 .. 2024-01-02T00:00:00 |",
        "| shards written | 1 |",
        "| shards reused | 0 |",
        "| schema hash | `",
    ):
        assert row in summary
    assert "| bytes | " in summary
    (record,) = records()
    assert record.run_id == "13872245109"
    assert record.provenance.commit == "3f2c9e1d8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d"
    assert record.provenance.run_url == ("https://github.com/acme/widgets/actions/runs/13872245109")
    info = opendata.info(DATASET)
    assert info.provenance.commit == "3f2c9e1d8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d"
    # A second run appends to the summary.
    od("run", str(project))
    assert github.read_text().count("### ✅") == 2


def test_github_actions_failure(
    project: Path, github: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_RUN_ATTEMPT", "2")
    write_main(project, "def main():\n    raise ValueError('bad row: 50%\\nsecond line')\n")
    result = od("run", str(project))
    assert result.exit_code == 1
    (annotation,) = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert annotation.startswith("::error title=od run failed (parse)%3A acme/widgets::")
    assert "bad row: 50%25" in annotation  # escaped for the workflow command
    summary = github.read_text()
    assert "### ❌ `acme/widgets`: failed (parse)" in summary
    assert "Nothing was published" in summary
    assert records()[0].run_id == "13872245109a2"


def test_json_output(project: Path) -> None:
    write_main(
        project, GOOD_MAIN.replace("def main():", "def main():\n    print('chatty producer')")
    )
    result = od("run", "--json", str(project))
    assert result.exit_code == 0
    out = json.loads(result.stdout)  # the producer's print went to stderr
    assert "chatty producer" in result.stderr
    assert out["status"] == "success"
    assert out["published"] is True
    assert out["rows"] == 3
    assert out["columns"] == ["date", "shop", "sold"]
    assert out["shards_written"] == 1
    assert out["run_record"].startswith("datasets/acme/widgets/runs/")
    assert out["min_time"] == "2024-01-01T00:00:00"


def test_debug_shows_the_traceback(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_main(project, "def main():\n    raise ValueError('boom')\n")
    assert "Traceback" not in od("run", str(project)).output
    monkeypatch.setenv("OPENDATA_DEBUG", "1")
    result = od("run", str(project))
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert "ValueError: boom" in result.stderr


def test_help_lists_exit_codes() -> None:
    result = od("run", "--help")
    assert result.exit_code == 0
    assert "--dry-run" in result.output
    assert "3 publishing failed" in result.output


def test_a_failure_after_the_commit_still_reports_published(project: Path) -> None:
    """metadata.json cannot be written, but the manifest committed: the run succeeded."""
    client = opendata.Client()
    from opendata_core.ids import DatasetId

    (Path(client.store.local_path(client.layout.metadata(DatasetId.parse(DATASET))))).mkdir(
        parents=True
    )
    result = od("run", "--json", str(project))
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["published"] is True
    assert out["status"] == "success"
    assert out["publish_id"] == opendata.Client().manifest(DATASET).publish_id
    (warning,) = out["warnings"]
    assert "but writing metadata.json failed" in warning
    assert "od index rebuild" in warning
    assert len(opendata.load(DATASET)) == 3
    (record,) = records()
    assert record.status == "success"


def test_an_identical_run_succeeds_and_records_that_nothing_changed(project: Path) -> None:
    assert od("run", str(project)).exit_code == 0
    first = opendata.Client().manifest(DATASET).publish_id
    result = od("run", "--json", str(project))
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["status"], out["unchanged"], out["publish_id"]) == ("success", True, first)
    assert opendata.Client().manifest(DATASET).publish_id == first
    plain = od("run", str(project))
    assert f"identical to publish {first}; nothing new was committed" in plain.stdout
    records_ = records()
    assert [r.unchanged for r in records_] == [False, True, True]
    assert all(r.status == "success" and r.publish_id == first for r in records_)
