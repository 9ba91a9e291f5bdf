"""Every read call and read command of OpenData, as cases that must agree on every transport.

A :class:`Case` runs in one transport's environment and returns a plain value (frames, documents
and command output made comparable); an exception becomes its class and the attributes a caller
acts on. ``covers`` names the parameters or options the case exercises: tests/parity/
test_parity.py fails when a public read function, a ``Client`` method or an ``od`` command (or
one of their parameters and options) has no case, so a read feature cannot forget the registry.

Differences that are the design, not a bug, are normalised here and nowhere else:

* search results are compared as sets: the registry's engine ranks by its own relevance
  (decision 0005), the rule of what matches is the same;
* the registry's extra ``health`` (``od info``) is dropped;
* where an address is the transport's own (a shard's URL, a citation's URL, a cache path) the
  case checks its form for that transport and compares the rest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec

import opendata as od
from tests.parity.conftest import PREFIX, PRICES, RATES, TICKS, World

__all__ = ["CASES", "Case", "Context"]


@dataclass(frozen=True)
class Context:
    """What a case may use: the world, the transport's name and a folder of its own."""

    world: World
    transport: str
    tmp: Path

    @property
    def registry(self) -> str | None:
        return self.world.registries.get(self.transport)

    def version(self, i: int) -> str:
        return self.world.versions[i]

    def prefix(self, i: int) -> str:
        """The shortest unique prefix (at least 8 characters) of version ``i``."""
        target = self.world.versions[i]
        for n in range(8, len(target)):
            if sum(v.startswith(target[:n]) for v in self.world.versions) == 1:
                return target[:n]
        return target


@dataclass(frozen=True)
class Case:
    id: str
    run: Callable[[Context], Any]
    covers: dict[str, set[str]]
    """``{"load": {"start", "end"}}``, ``{"od get": {"--start"}}``: what the case exercises."""
    error: type[BaseException] | None = None
    """The error every transport must raise (None: a result)."""
    skip: dict[str, str] = field(default_factory=dict)
    """Transports where the behaviour is by design another, with the reason."""


# -- making results comparable -----------------------------------------------------------------


def frame(df: Any) -> Any:
    """A pandas, polars or Arrow result as plain values: columns, types and rows."""
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    if isinstance(df, pd.DataFrame):
        rows = json.loads(df.to_json(orient="values", date_format="iso", date_unit="ns"))
        return {"pandas": list(df.columns), "dtypes": [str(t) for t in df.dtypes], "rows": rows}
    if isinstance(df, pl.DataFrame):
        return {"polars": str(df.schema), "rows": df.rows()}
    assert isinstance(df, pa.Table), type(df)
    return {"arrow": str(df.schema), "rows": df.to_pylist()}


def plain(value: Any) -> Any:
    return msgspec.to_builtins(value)


def by_id(entries: list[od.IndexEntry]) -> list[Any]:
    """Search results as a set (sorted by id): which datasets match, not the engine's order."""
    return sorted((plain(e) for e in entries), key=lambda e: e["id"])


def shard_urls(ctx: Context, urls: list[od.ShardUrl], *, signed: bool = False) -> list[Any]:
    """The shards' checksums and spans; each URL checked for the transport's form."""
    world = ctx.world
    for u in urls:
        if ctx.registry is not None:
            origin = world.endpoint if ctx.transport == "registry-s3" else ctx.registry
            assert u.url.startswith(f"{origin}/"), u.url
            assert "signature" in u.url.lower(), u.url
        elif ctx.transport == "local":
            assert u.url.startswith(world.root.resolve().as_uri()), u.url
        elif signed:
            assert u.url.startswith(f"{world.endpoint}/{world.bucket}/{PREFIX}/datasets/"), u.url
        else:
            assert u.url.startswith(f"s3://{world.bucket}/{PREFIX}/datasets/"), u.url
    return [(u.sha256, u.rows, u.bytes, u.partition, u.min, u.max) for u in urls]


def diff(result: Any) -> dict[str, Any]:
    import dataclasses

    return {**dataclasses.asdict(result), "schema": str(result.schema)}


def local_files(urls: list[od.ShardUrl]) -> list[Any]:
    import hashlib

    out = []
    for u in urls:
        assert u.url.startswith("file://"), u.url
        data = Path(u.url.removeprefix("file://")).read_bytes()
        out.append((u.sha256, hashlib.sha256(data).hexdigest()))
    return out


def citation(ctx: Context, text: str) -> str:
    """The citation with its URL checked (the version's own, never a file path through a
    registry) and replaced by ``<url>``."""
    pid = ctx.version(1)
    world = ctx.world
    if ctx.registry is not None:
        url = f"{ctx.registry}/v1/datasets/{PRICES}/versions/{pid}"
        assert "file://" not in text, text
    elif ctx.transport == "local":
        url = (world.root / "datasets" / PRICES / "versions" / f"{pid}.json").resolve().as_uri()
    else:
        url = f"s3://{world.bucket}/{PREFIX}/datasets/{PRICES}/versions/{pid}.json"
    assert url in text, (url, text)
    return text.replace(url, "<url>")


# -- the command line ----------------------------------------------------------------------------


def od_command(ctx: Context, *args: str, addresses: bool = False) -> dict[str, Any]:
    """``od ARGS`` in the transport's environment: exit code, output and the error lines.

    The transport's addresses in the output become ``<address>`` (unless ``addresses``); an
    error keeps what failed, without the registry's request id.
    """
    from click.testing import CliRunner

    from opendata_cli.main import cli

    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    out = result.stdout
    if not addresses:
        for address in (str(ctx.tmp), str(ctx.world.root), *ctx.world.registries.values()):
            out = out.replace(address, "<address>")
    errors = [
        re.sub(r" \(Request ID: [^)]*\)$", "", line)
        for line in result.stderr.splitlines()
        if line.startswith("error:")
    ]
    return {"exit": result.exit_code, "stdout": out, "error": errors}


def od_json(ctx: Context, *args: str, addresses: bool = False) -> Any:
    done = od_command(ctx, *args, "--json", addresses=addresses)
    assert done["exit"] == 0, done
    return json.loads(done["stdout"])


def without_health(doc: dict[str, Any]) -> dict[str, Any]:
    """``od info --json`` without the registry's run health (only a registry watches runs)."""
    doc.pop("health", None)
    return doc


def text_without_health(done: dict[str, Any]) -> dict[str, Any]:
    lines = done["stdout"].splitlines()
    skip = re.compile(r"^(health: |  stale: |  last failure)")
    done["stdout"] = "\n".join(line for line in lines if not skip.match(line))
    return done


def sorted_lines(done: dict[str, Any]) -> dict[str, Any]:
    done["stdout"] = sorted(done["stdout"].splitlines())
    return done


def read_file(path: Path) -> Any:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return frame(pq.read_table(path))
    return path.read_text()


def get_to_file(ctx: Context, name: str, *args: str) -> Any:
    target = ctx.tmp / name
    done = od_command(ctx, "get", PRICES, "-o", str(target), *args)
    return {**done, "file": read_file(target) if done["exit"] == 0 else None}


def cache_after_load(ctx: Context, *args: str) -> Any:
    od.load(PRICES)  # fills the cache with the current version's shards
    done = od_command(ctx, "cache", *args)
    done["stdout"] = re.sub(r"^\S+: ", "<cache>: ", done["stdout"])
    return done


def cache_json(ctx: Context) -> Any:
    od.load(PRICES)
    info = od_json(ctx, "cache", "info")
    assert Path(info.pop("path")) == od.cache().info().path
    return info


# -- the cases -----------------------------------------------------------------------------------


IN_PLACE = "a folder store is read in place, never copied into the cache"


CASES: list[Case] = [
    # od.load: every parameter, and its errors
    Case("load", lambda c: frame(od.load(PRICES)), {"load": {"id"}}),
    Case(
        "load-range",
        lambda c: frame(od.load(PRICES, start="2022-11", end="2023-01-15")),
        {"load": {"start", "end"}},
    ),
    Case(
        "load-columns",
        lambda c: frame(od.load(PRICES, columns=["date", "close"], start="2023")),
        {"load": {"columns"}},
    ),
    Case(
        "load-filters",
        lambda c: frame(
            od.load(PRICES, filters=[("symbol", "=", "BBB"), ("date", ">=", "2023-12")])
        ),
        {"load": {"filters"}},
    ),
    Case(
        "load-polars",
        lambda c: frame(od.load(PRICES, format="polars", start="2023-06")),
        {"load": {"format"}},
    ),
    Case("load-arrow", lambda c: frame(od.load(RATES, format="arrow")), {"load": {"format"}}),
    Case(
        "load-ranged-columns",  # format 1.1 blocks: byte ranges through each transport
        lambda c: frame(od.load(TICKS, columns=["time", "bid"], start="2024-01-20")),
        {"load": {"columns", "start"}},
    ),
    Case(
        "load-version",
        lambda c: frame(od.load(PRICES, version=c.version(0))),
        {"load": {"version"}},
    ),
    Case(
        "load-version-prefix",
        lambda c: frame(od.load(PRICES, version=c.prefix(2), columns=["date", "note"])),
        {"load": {"version"}},
    ),
    Case(
        "load-as-of",
        lambda c: frame(od.load(PRICES, as_of=c.world.published[1], start="2023-06")),
        {"load": {"as_of"}},
    ),
    Case(
        "load-unknown",
        lambda c: od.load("parity/pricez"),
        {"load": {"id"}},
        error=od.DatasetNotFound,
    ),
    Case(
        "load-bad-id", lambda c: od.load("parity/../x"), {"load": {"id"}}, error=od.InvalidDatasetId
    ),
    Case(
        "load-unknown-column",
        lambda c: od.load(PRICES, columns=["date", "nope"]),
        {"load": {"columns"}},
        error=od.ColumnNotFound,
    ),
    Case(
        "load-outside-coverage",
        lambda c: od.load(PRICES, start="2030"),
        {"load": {"start"}},
        error=od.RangeOutsideCoverage,
    ),
    Case(
        "load-bad-filter",
        lambda c: od.load(PRICES, filters=[("nope", "=", 1)]),
        {"load": {"filters"}},
        error=od.ColumnNotFound,
    ),
    Case(
        "load-bad-format",
        lambda c: od.load(PRICES, format="excel"),  # type: ignore[call-overload]
        {"load": {"format"}},
        error=ValueError,
    ),
    Case(
        "load-unknown-version",
        lambda c: od.load(PRICES, version="zzzzzzzzzzzz"),
        {"load": {"version"}},
        error=od.VersionNotFound,
    ),
    Case(
        "load-short-version",
        lambda c: od.load(PRICES, version="abc"),
        {"load": {"version"}},
        error=od.OpenDataError,
    ),
    Case(
        "load-as-of-before-first",
        lambda c: od.load(PRICES, as_of="2001-01-01"),
        {"load": {"as_of"}},
        error=od.VersionNotFound,
    ),
    Case(
        "load-bad-as-of",
        lambda c: od.load(PRICES, as_of="yesterday"),
        {"load": {"as_of"}},
        error=od.OpenDataError,
    ),
    Case(
        "load-version-and-as-of",
        lambda c: od.load(PRICES, version=c.version(0), as_of=c.world.published[0]),
        {"load": {"version", "as_of"}},
        error=od.OpenDataError,
    ),
    # od.scan
    Case(
        "scan",
        lambda c: frame(od.scan(PRICES, start="2023-12-01").collect()),
        {"scan": {"id", "start"}},
    ),
    Case(
        "scan-pinned",
        lambda c: frame(od.scan(PRICES, end="2021-01-31", version=c.version(0)).collect()),
        {"scan": {"end", "version"}},
    ),
    Case(
        "scan-as-of",
        lambda c: frame(od.scan(PRICES, as_of=c.world.published[2]).collect()),
        {"scan": {"as_of"}},
    ),
    Case(
        "scan-unknown", lambda c: od.scan("parity/nope"), {"scan": {"id"}}, error=od.DatasetNotFound
    ),
    # od.to_dask: load's frame, indexed by the time column, one partition per shard
    Case(
        "to-dask",
        lambda c: frame(
            od.to_dask(PRICES, start="2023-06", columns=["close"], filters=[("symbol", "=", "AAA")])
            .compute()
            .reset_index()
        ),
        {"to_dask": {"id", "start", "columns", "filters"}},
    ),
    Case(
        "to-dask-pinned",
        lambda c: frame(od.to_dask(PRICES, end="2021-02", version=c.version(0)).compute()),
        {"to_dask": {"end", "version"}},
    ),
    Case(
        "to-dask-as-of",
        lambda c: frame(od.to_dask(PRICES, as_of=c.world.published[1], start="2023-06").compute()),
        {"to_dask": {"as_of"}},
    ),
    Case(
        "to-dask-unknown",
        lambda c: od.to_dask("parity/pricez"),
        {"to_dask": {"id"}},
        error=od.DatasetNotFound,
    ),
    # od.urls
    Case(
        "urls",
        lambda c: shard_urls(c, od.urls(PRICES, start="2022", end="2023")),
        {"urls": {"id", "start", "end"}},
    ),
    Case(
        "urls-signed",
        lambda c: shard_urls(
            c, od.urls(PRICES, signed=True, expires=timedelta(minutes=10)), signed=True
        ),
        {"urls": {"signed", "expires"}},
        skip={"local": "a folder cannot sign URLs (the registry over it signs its own)"},
    ),
    Case(
        "urls-local",
        lambda c: local_files(od.urls(PRICES, local=True, version=c.version(1))),
        {"urls": {"local", "version"}},
    ),
    Case(
        "urls-as-of",
        lambda c: shard_urls(c, od.urls(PRICES, as_of=c.world.published[0])),
        {"urls": {"as_of"}},
    ),
    Case(
        "urls-signed-and-local",
        lambda c: od.urls(PRICES, signed=True, local=True),
        {"urls": {"signed", "local"}},
        error=ValueError,
    ),
    # od.info
    Case("info", lambda c: plain(od.info(PRICES)), {"info": {"id"}}),
    Case(
        "info-version",
        lambda c: plain(od.info(PRICES, version=c.version(1))),
        {"info": {"version"}},
    ),
    Case(
        "info-as-of",
        lambda c: plain(od.info(PRICES, as_of=c.world.published[2])),
        {"info": {"as_of"}},
    ),
    Case(
        "info-unknown",
        lambda c: od.info("parity/price"),
        {"info": {"id"}},
        error=od.DatasetNotFound,
    ),
    # od.search and od.list
    Case("search-prefix", lambda c: by_id(od.search("rate")), {"search": {"query"}}),
    Case("search-words", lambda c: by_id(od.search("euro rates")), {"search": {"query"}}),
    Case("search-substring", lambda c: by_id(od.search("ates")), {"search": {"query"}}),
    Case("search-stem", lambda c: by_id(od.search("rating stations")), {"search": {"query"}}),
    Case(
        "search-did-you-mean",  # nothing found: the same suggestion from the catalogue's words
        lambda c: [
            (q, len(m), m.suggestion)
            for q in ("exchnage", "wether rtaes", "zzzzzz")
            for m in [od.search(q)]
        ],
        {"search": {"query"}},
    ),
    Case("search-punctuation", lambda c: by_id(od.search("euro-fx")), {"search": {"query"}}),
    Case("search-id-words", lambda c: by_id(od.search("parity sep")), {"search": {"query"}}),
    Case("search-all", lambda c: by_id(od.search()), {"search": set()}),
    Case("search-topic", lambda c: by_id(od.search(topic="Climate")), {"search": {"topic"}}),
    Case(
        "search-namespace", lambda c: by_id(od.search(namespace="ACME")), {"search": {"namespace"}}
    ),
    Case("search-license", lambda c: by_id(od.search(license="cc0-1.0")), {"search": {"license"}}),
    Case(
        "search-frequency",
        lambda c: by_id(od.search("rates", frequency="monthly")),
        {"search": {"frequency"}},
    ),
    Case("search-geo", lambda c: by_id(od.search(geo="fr")), {"search": {"geo"}}),
    Case("search-geo-scope", lambda c: by_id(od.search(geo="Country")), {"search": {"geo"}}),
    Case(
        "search-limit",  # how many, not which: the engines rank differently (decision 0005)
        lambda c: len(od.search("parity", limit=2)),
        {"search": {"limit"}},
    ),
    Case("list", lambda c: [plain(e) for e in od.list()], {"list": set()}),
    # Client methods beyond the module functions
    Case(
        "versions",
        lambda c: [plain(v) for v in od.Client().versions(PRICES)],
        {"Client.versions": {"id"}},
    ),
    Case(
        "versions-unknown",
        lambda c: od.Client().versions("parity/nope"),
        {"Client.versions": {"id"}},
        error=od.DatasetNotFound,
    ),
    Case(
        "diff",
        lambda c: diff(od.Client().diff(PRICES, c.version(0), c.version(3))),
        {"Client.diff": {"id", "v1", "v2"}},
    ),
    Case(
        "diff-no-rows",
        lambda c: str(od.Client().diff(PRICES, c.prefix(1), c.version(2), rows=False)),
        {"Client.diff": {"rows"}},
    ),
    Case(
        "diff-unknown-version",
        lambda c: od.Client().diff(PRICES, c.version(0), "zzzzzzzzzz"),
        {"Client.diff": {"v2"}},
        error=od.VersionNotFound,
    ),
    Case(
        "cite",
        lambda c: citation(c, od.Client().cite(PRICES, version=c.version(1))),
        {"Client.cite": {"id", "version"}},
    ),
    Case(
        "cite-as-of-bibtex",
        lambda c: citation(c, od.Client().cite(PRICES, as_of=c.world.published[1], style="bibtex")),
        {"Client.cite": {"as_of", "style"}},
    ),
    Case(
        "cite-unknown",
        lambda c: od.Client().cite("parity/nope"),
        {"Client.cite": {"id"}},
        error=od.DatasetNotFound,
    ),
    Case("manifest", lambda c: plain(od.Client().manifest(PRICES)), {"Client.manifest": {"id"}}),
    Case(
        "cache",
        lambda c: (od.load(PRICES, start="2023"), od.cache().info().entries)[1],
        {"cache": set()},
        skip={"local": IN_PLACE},
    ),
    # od, the command line
    Case(
        "od-get-csv",
        lambda c: get_to_file(c, "out.csv", "--start", "2023-12-20", "--columns", "date,close"),
        {"od get": {"DATASET_ID", "-o", "--start", "--columns"}},
    ),
    Case(
        "od-get-parquet-version",
        lambda c: get_to_file(c, "out.parquet", "--version", c.version(0), "--end", "2021-02"),
        {"od get": {"--version", "--end"}},
    ),
    Case(
        "od-get-json-as-of",
        lambda c: get_to_file(
            c,
            "out.data",
            "--format",
            "json",
            "--as-of",
            c.world.published[1],
            "--start",
            "2023-06-29",
        ),
        {"od get": {"--format", "--as-of"}},
    ),
    Case(
        "od-get-summary",
        lambda c: get_to_file(c, "out.csv", "--json", "--start", "2023-12-30"),
        {"od get": {"--json"}},
    ),
    Case(
        "od-get-stdout",
        lambda c: od_command(c, "get", RATES, "-o", "-"),
        {"od get": {"-o"}},
    ),
    Case(
        "od-get-unknown",
        lambda c: od_command(c, "get", "parity/pricez", "-o", str(c.tmp / "x.csv")),
        {"od get": {"DATASET_ID"}},
    ),
    Case(
        "od-get-unknown-version",
        lambda c: od_command(
            c, "get", PRICES, "-o", str(c.tmp / "x.csv"), "--version", "zzzzzzzzz"
        ),
        {"od get": {"--version"}},
    ),
    Case(
        "od-search",
        lambda c: sorted_lines(od_command(c, "search", "rate")),
        {"od search": {"QUERY"}},
    ),
    Case(
        "od-search-did-you-mean",
        lambda c: od_command(c, "search", "Exchnage"),
        {"od search": {"QUERY"}},
    ),
    Case(
        "od-search-filters",
        lambda c: sorted(
            e["id"]
            for e in od_json(
                c,
                "search",
                "--topic",
                "finance",
                "--namespace",
                "parity",
                "--license",
                "CC-BY-4.0",
                "--frequency",
                "daily",
                "--geo",
                "DE",
                "--limit",
                "5",
            )
        ),
        {
            "od search": {
                "--topic",
                "--namespace",
                "--license",
                "--frequency",
                "--geo",
                "--limit",
                "--json",
            }
        },
    ),
    Case("od-list", lambda c: od_command(c, "list"), {"od list": set()}),
    Case("od-list-json", lambda c: od_json(c, "list"), {"od list": {"--json"}}),
    Case(
        "od-info",
        lambda c: text_without_health(od_command(c, "info", PRICES)),
        {"od info": {"DATASET_ID"}},
    ),
    Case(
        "od-info-json-version",
        lambda c: without_health(od_json(c, "info", PRICES, "--version", c.version(1))),
        {"od info": {"--json", "--version"}},
    ),
    Case(
        "od-info-as-of",
        lambda c: text_without_health(
            od_command(c, "info", PRICES, "--as-of", c.world.published[0])
        ),
        {"od info": {"--as-of"}},
    ),
    Case(
        "od-info-cite",
        lambda c: citation(
            c,
            od_command(c, "info", PRICES, "--cite", "--version", c.version(1), addresses=True)[
                "stdout"
            ],
        ),
        {"od info": {"--cite"}},
    ),
    Case(
        "od-info-cite-bibtex",
        lambda c: citation(
            c,
            od_json(
                c,
                *("info", PRICES, "--cite", "--format", "bibtex"),
                *("--as-of", c.world.published[1]),
                addresses=True,
            )["citation"],
        ),
        {"od info": {"--cite", "--format", "--json"}},
    ),
    Case(
        "od-info-unknown",
        lambda c: od_command(c, "info", "parity/price"),
        {"od info": {"DATASET_ID"}},
    ),
    Case(
        "od-versions", lambda c: od_command(c, "versions", PRICES), {"od versions": {"DATASET_ID"}}
    ),
    Case("od-versions-json", lambda c: od_json(c, "versions", PRICES), {"od versions": {"--json"}}),
    Case(
        "od-diff",
        lambda c: od_command(c, "diff", PRICES, c.version(0), c.version(3)),
        {"od diff": {"DATASET_ID", "V1", "V2"}},
    ),
    Case(
        "od-diff-json-no-rows",
        lambda c: od_json(c, "diff", PRICES, c.version(2), c.prefix(3), "--no-rows"),
        {"od diff": {"--json", "--no-rows"}},
    ),
    Case(
        "od-cache-info",
        lambda c: cache_after_load(c, "info"),
        {"od cache info": set()},
        skip={"local": IN_PLACE},
    ),
    Case(
        "od-cache-info-json",
        lambda c: cache_json(c),
        {"od cache info": {"--json"}},
        skip={"local": IN_PLACE},
    ),
    Case(
        "od-cache-clear",
        lambda c: cache_after_load(c, "clear"),
        {"od cache clear": set()},
        skip={"local": IN_PLACE},
    ),
    Case(
        "od-cache-clear-json",
        lambda c: (od.load(RATES), od_json(c, "cache", "clear"))[1],
        {"od cache clear": {"--json"}},
        skip={"local": IN_PLACE},
    ),
]
