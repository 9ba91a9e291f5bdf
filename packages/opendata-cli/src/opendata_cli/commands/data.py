"""Thin commands over the client: push, get, search, info, list, gc, index, cache, versions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from opendata_cli._choices import CoreChoice
from opendata_cli._exit import CommandFailed
from opendata_cli._export import FORMATS

if TYPE_CHECKING:
    from opendata_cli._export import Format
    from opendata_core.api import HealthSummary
    from opendata_core.lifecycle import Lifecycle

__all__ = ["diff", "gc", "get", "index", "info", "list_", "push", "registry", "search", "versions"]

_store_option = click.option(
    "--store",
    envvar="OPENDATA_STORE",
    show_envvar=True,
    help="Folder, s3://bucket/prefix or r2://bucket/prefix (default: the local store).",
)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
_version_option = click.option(
    "--version",
    "version",
    metavar="ID",
    help="A publish id, or a unique prefix of at least 8 characters (see `od versions`).",
)
_as_of_option = click.option(
    "--as-of",
    "as_of",
    metavar="TIME",
    help="The version current at this time, e.g. 2025-03-01 or 2025-03-01T12:00Z (UTC).",
)


def _client(store: str | None, progress: Any = None) -> Any:
    import opendata as od

    return od.Client(store=store, progress=progress)


def _echo_json(value: Any) -> None:
    import msgspec

    click.echo(msgspec.json.format(msgspec.json.encode(value), indent=2).decode())


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("dataset_id", required=False)
@click.option(
    "--id",
    "id_option",
    metavar="NS/NAME",
    help="The dataset id, as the DATASET_ID argument (kept for older scripts).",
)
@click.option(
    "--metadata",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An opendata.yaml describing the dataset (title, licence, ...).",
)
@click.option(
    "--mode",
    type=click.Choice(["replace", "append"]),
    default="replace",
    show_default=True,
    help="replace: FILE becomes the dataset; append: FILE's rows are added to it.",
)
@click.option("--time-column", help="Column to shard and filter on.")
@click.option(
    "--partition",
    type=click.Choice(["year", "month", "day", "none"]),
    help="Shard size on the time column (default: chosen from the data's size).",
)
@click.option(
    "--allow-schema-change",
    is_flag=True,
    help="Publish even if the columns or their types changed since the last publish.",
)
@_store_option
@_json_option
def push(
    file: Path,
    dataset_id: str | None,
    id_option: str | None,
    metadata: Path | None,
    mode: str,
    time_column: str | None,
    partition: str | None,
    allow_schema_change: bool,
    store: str | None,
    as_json: bool,
) -> None:
    """Publish a Parquet or CSV FILE as dataset DATASET_ID (namespace/name).

    A changed schema (added, removed or retyped columns) is refused unless --allow-schema-change.
    With OPENDATA_REGISTRY (and no OPENDATA_STORE) it publishes through the registry.
    """
    from opendata_cli._progress import transfer_progress

    if dataset_id is not None and id_option is not None and dataset_id != id_option:
        raise click.UsageError(f"two dataset ids: {dataset_id!r} and --id {id_option!r}")
    dataset_id = dataset_id or id_option
    if dataset_id is None:
        raise click.UsageError("Missing argument 'DATASET_ID' (e.g. od push data.csv acme/widgets)")
    if metadata is not None:
        _check_placeholders(metadata)
    with transfer_progress(f"publishing {dataset_id}") as progress:
        result = _client(store, progress).push(
            file,
            dataset_id,
            metadata=metadata,
            mode=mode,
            time_column=time_column,
            partition=partition,
            allow_schema_change=allow_schema_change,
        )
    if as_json:
        _echo_json(result)
    else:
        click.secho(f"published {result}", fg="green")


def _check_placeholders(metadata: Path) -> None:
    """The example texts of ``od init``: warnings here, errors in GitHub Actions."""
    from opendata_cli._placeholders import enforce_placeholders
    from opendata_core.metadata import check_metadata

    path = metadata / "opendata.yaml" if metadata.is_dir() else metadata
    report = check_metadata(path)
    if report.metadata is not None:  # else the push names the file's problems
        enforce_placeholders(path, report.metadata)


@click.command()
@click.argument("dataset_id")
@click.option(
    "-o",
    "--output",
    required=True,
    help="Where to write: out.parquet, out.csv, out.json, or - for stdout.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="Output format (default: from the file name's suffix; csv for stdout).",
)
@click.option("--start", help="First date/time (inclusive), e.g. 2024-01-01.")
@click.option("--end", help="Last date/time (inclusive).")
@click.option("--columns", help="Comma-separated column names.")
@_version_option
@_as_of_option
@_store_option
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print what was written (rows, columns, path) as JSON; not with -o -.",
)
def get(
    dataset_id: str,
    output: str,
    fmt: str | None,
    start: str | None,
    end: str | None,
    columns: str | None,
    version: str | None,
    as_of: str | None,
    store: str | None,
    as_json: bool,
) -> None:
    """Download DATASET_ID (or a time range of it) as CSV, Parquet or JSON.

    CSV cells and column names that a spreadsheet would run as a formula (starting with
    = + - @, a tab or a line break, also after spaces or invisible characters such as a BOM or a
    zero-width space, or in full-width form) are prefixed with '.
    """
    from opendata_cli._export import write_table

    to_stdout = output == "-"
    if fmt is None:
        fmt = "csv" if to_stdout else Path(output).suffix.lower().lstrip(".")
        if fmt not in FORMATS:
            raise click.BadParameter(
                f"{output}: use a .parquet, .csv or .json file name, or --format",
                param_hint="'-o'",
            )
    if to_stdout and as_json:
        raise click.BadParameter("--json prints to stdout, where -o - writes the data")
    folder = Path(output).parent
    if not to_stdout and not folder.is_dir():  # before the download, not after it
        raise CommandFailed(
            f"cannot write {output}: the folder {folder} does not exist; nothing was downloaded",
            hint=f"create it first (mkdir -p {folder}), or give -o another path",
        )
    cols = [c.strip() for c in columns.split(",")] if columns else None
    from opendata_cli._progress import transfer_progress

    with transfer_progress(f"downloading {dataset_id}") as progress:
        table = _client(store, progress).load(
            dataset_id,
            start=start,
            end=end,
            columns=cols,
            format="arrow",
            version=version,
            as_of=as_of,
        )
    if to_stdout:
        import sys

        sink = sys.stdout.buffer
        write_table(table, sink, cast("Format", fmt))
        sink.flush()
        click.echo(f"wrote {table.num_rows:,} rows ({fmt}) to stdout", err=True)
        return
    from opendata_core.files import atomic_writer

    path = Path(output)
    with atomic_writer(path) as fh:
        write_table(table, fh, cast("Format", fmt))
    if as_json:
        _echo_json(
            {
                "dataset_id": dataset_id,
                "path": str(path),
                "format": fmt,
                "rows": table.num_rows,
                "columns": table.column_names,
                "bytes": path.stat().st_size,
            }
        )
    else:
        click.secho(f"wrote {table.num_rows:,} rows to {path}", fg="green")


@click.command()
@click.argument("query", required=False, default="")
@click.option("--topic", help="Only datasets with this topic.")
@click.option("--namespace", help="Only datasets in this namespace (owner), e.g. ecb.")
@click.option("--license", "license_", help="Only datasets under this licence, e.g. CC-BY-4.0.")
@click.option("--frequency", help="Only datasets updated this often, e.g. daily.")
@click.option(
    "--geo",
    help="Only datasets covering this ISO 3166-1 country code (e.g. DE) or of this scope "
    "(global, region, country, multi).",
)
@click.option("--country", hidden=True, help="Deprecated name of --geo.")
@click.option(
    "--trust",
    type=CoreChoice("opendata_core.lifecycle", "TRUST_LEVELS", skip=1),  # not "none"
    help="Only datasets an operator verified at this level or higher (see `od info`).",
)
@click.option(
    "--verified",
    is_flag=True,
    help="Only verified datasets: --trust verified-publisher or higher.",
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Most results."
)
@_store_option
@_json_option
def search(
    query: str,
    topic: str | None,
    namespace: str | None,
    license_: str | None,
    frequency: str | None,
    geo: str | None,
    country: str | None,
    trust: str | None,
    verified: bool,
    limit: int,
    store: str | None,
    as_json: bool,
) -> None:
    """Search datasets by keyword (id, title, description, topics) and filters.

    A word matches the words it begins, or by its English stem ("rating" finds "rates"). When
    nothing is found, a query of the catalogue's own words is suggested ("did you mean").
    Withdrawn datasets are never found; deprecated ones are marked.
    """
    if verified and trust is None:
        trust = "verified-publisher"
    if country is not None:
        from opendata_core.deprecation import renamed_message

        click.secho(f"warning: {renamed_message('--country', '--geo')}", fg="yellow", err=True)
        if geo is not None and geo != country:
            raise click.UsageError("give --geo only (--country is its deprecated name)")
        geo = country
    results = _client(store).search(
        query,
        topic=topic,
        namespace=namespace,
        license=license_,
        frequency=frequency,
        geo=geo,
        limit=limit,
        trust=trust,
    )
    _print_entries(results, as_json)
    if results.suggestion:
        # On stderr with --json, so standard output stays the JSON list.
        click.echo(f'did you mean "{results.suggestion}"?', err=as_json)


@click.command(name="list")
@_store_option
@_json_option
def list_(store: str | None, as_json: bool) -> None:
    """List every dataset in the index."""
    _print_entries(_client(store).list(), as_json)


_ROOM_FOR_DETAILS = 36
"""Columns a table needs beside the ids; narrower consoles get one entry per two lines."""


def _print_entries(entries: list[Any], as_json: bool) -> None:
    """A table of index entries, one line each. The id (what users copy) is never shortened."""
    from opendata_cli._tables import Column, print_table, short_time

    if as_json:
        _echo_json(entries)
        return
    if not entries:
        click.echo("no datasets found")
        return
    from rich.console import Console
    from rich.padding import Padding
    from rich.text import Text

    from opendata_core.lifecycle import TRUST_TERMS

    rows = [
        [
            e.id,
            _marked(e) + (e.title or ""),
            f"{e.row_count:,}",
            f"{short_time(e.min_time)}..{short_time(e.max_time)}" if e.min_time else "",
            e.license or "",
            TRUST_TERMS[e.effective_trust()].label if e.effective_trust() != "none" else "",
        ]
        for e in entries
    ]
    verified = any(row[5] for row in rows)
    console = Console(highlight=False)
    longest = max(len(row[0]) for row in rows)
    if longest + _ROOM_FOR_DETAILS > console.width:
        # Too narrow for a table: the id on a line of its own (never cut, however long), the
        # details below it.
        for row in rows:
            console.print(Text(row[0], style="bold"), soft_wrap=True)
            details = [row[1], f"{row[2]} rows", row[3], row[4], row[5]]
            console.print(Padding(Text(" · ".join(d for d in details if d)), (0, 0, 0, 2)))
        return
    columns = [
        Column("id"),
        Column("title", shrink=12),
        Column("rows", justify="right"),
        Column("coverage", drop=1),
        Column("license", drop=2),  # an identifier: left out whole rather than cut
    ]
    if verified:  # a store where no operator verified anything keeps its table as it was
        columns.append(Column("trust", drop=3))
    else:
        rows = [row[:5] for row in rows]
    print_table(columns, rows)


def _marked(entry: Any) -> str:
    """The title's mark of a dataset not to use any more: ``[deprecated → successor]``."""
    if entry.status == "active":
        return ""
    successor = f" → {entry.successor}" if entry.successor else ""
    return f"[{entry.status}{successor}] "


@click.command()
@click.argument("dataset_id")
@_version_option
@_as_of_option
@click.option("--cite", is_flag=True, help="Print a citation of the version instead.")
@click.option(
    "--format",
    "style",
    type=CoreChoice("opendata_core.versions", "CITATION_STYLES"),
    default="text",
    show_default=True,
    help="Citation style (with --cite).",
)
@_store_option
@_json_option
def info(
    dataset_id: str,
    version: str | None,
    as_of: str | None,
    cite: bool,
    style: str,
    store: str | None,
    as_json: bool,
) -> None:
    """Show a dataset's metadata, stats and schema (of one version with --version/--as-of).

    With --cite, print a citation of that version (default the current one): title,
    publisher, year, version, retrieval URL and licence, as text, APA, BibTeX or CFF
    (CITATION.cff). Through a registry
    (OPENDATA_REGISTRY) it also shows the dataset's health: failing or stale, and why.
    """
    from opendata_core.timerange import coverage_text

    client = _client(store)
    if cite:
        text = client.cite(dataset_id, version=version, as_of=as_of, style=style)
        _echo_json({"citation": text, "format": style}) if as_json else click.echo(text)
        return
    doc = client.info(dataset_id, version=version, as_of=as_of)  # warns: moved, deprecated
    dataset_id = doc.dataset.id  # where a moved id leads
    lifecycle = client.lifecycle(dataset_id)
    health = client.health(dataset_id)  # None unless a registry watches the dataset's runs
    if as_json:
        import msgspec

        out = {**msgspec.to_builtins(doc), "lifecycle": msgspec.to_builtins(lifecycle)}
        _echo_json(out if health is None else {**out, "health": health})
        return
    d, s = doc.dataset, doc.stats
    click.secho(f"{d.id} — {d.title}", bold=True)
    if d.description:
        click.echo(d.description.strip())
    click.echo(f"rows: {s.row_count:,}   bytes: {s.bytes:,}   shards: {s.shard_count}")
    if cov := coverage_text(s.min_time, s.max_time):
        click.echo(f"coverage: {cov}")
    click.echo(
        f"updated: {doc.updated_at.isoformat()}   "
        f"license: {d.license or '-'}   repo: {d.repo or '-'}"
    )
    click.echo("columns: " + ", ".join(f"{f.name} ({f.type})" for f in doc.schema))
    _echo_lifecycle(lifecycle)
    if health is not None:
        _echo_health(health)
    pin = f', version="{version}"' if version else (f', as_of="{as_of}"' if as_of else "")
    click.echo(f'load: od.load("{d.id}"{pin})')


def _echo_lifecycle(doc: Lifecycle) -> None:
    """Trust (label and meaning, who granted it), status and the audit trail, oldest first."""
    from opendata_core.lifecycle import STATUS_TERMS, TRUST_TERMS

    trust = doc.trust
    level = trust.effective()
    term = TRUST_TERMS[level]
    line = f"trust: {term.label} — {term.meaning}"
    click.echo(click.style(line, fg="green") if level != "none" else line)
    if level != "none" and trust.granted_by:
        when = f" on {trust.granted_at:%Y-%m-%d}" if trust.granted_at else ""
        note = f": {trust.note}" if trust.note else ""
        review = f" (review by {trust.review_by})" if trust.review_by else ""
        click.echo(f"  granted by {trust.granted_by}{when}{note}{review}")
    elif trust.level != "none":
        click.secho(
            f"  was {TRUST_TERMS[trust.level].label}; its review was due by {trust.review_by}",
            fg="yellow",
        )
    status = STATUS_TERMS[doc.status]
    line = f"status: {status.label}"
    if doc.status == "deprecated":
        line += f" — {doc.message or 'no reason given'}"
        if doc.successor:
            line += f" Use {doc.successor} instead."
    click.echo(click.style(line, fg="yellow") if doc.status != "active" else line)
    if doc.previous_ids:
        click.echo("previous ids: " + ", ".join(doc.previous_ids))
    if doc.events:
        click.echo("lifecycle events:")
    for event in doc.events:
        details = " ".join(f"{k}={v}" for k, v in sorted(event.details.items()))
        note = f" — {event.note}" if event.note else ""
        click.echo(
            f"  {event.at:%Y-%m-%d %H:%M} {event.by}: {event.action} {details}".rstrip() + note
        )


def _echo_health(h: HealthSummary) -> None:
    """The registry's health line; a stale or failing dataset says why, in colour."""
    colour = {"ok": "green", "failing": "red", "stale": "yellow"}.get(h.status)
    line = f"health: {h.status}"
    if h.last_run_at is not None:
        line += f"   last run: {h.last_run_at.isoformat()}"
    click.echo(click.style(line, fg=colour))
    if h.stale and h.stale_reason:
        click.secho(f"  stale: {h.stale_reason}", fg="yellow")
    if h.status == "failing" and h.last_failure_message:
        click.secho(f"  last failure ({h.last_failure_class}): {h.last_failure_message}", fg="red")


@click.command()
@click.argument("dataset_id")
@click.option(
    "--older-than", default="1h", show_default=True, help="Grace period: 30m, 1h, 7d, ..."
)
@click.option("--dry-run", is_flag=True, help="Show what would be deleted.")
@_store_option
@_json_option
def gc(dataset_id: str, older_than: str, dry_run: bool, store: str | None, as_json: bool) -> None:
    """Delete what no kept version of DATASET_ID references any more.

    The dataset's retention (opendata.yaml; default the last 10 versions and 90 days) says which
    versions are kept; shards are deleted only after the grace period.
    """
    grace = _duration(older_than)
    result = _client(store).gc(dataset_id, older_than=grace, dry_run=dry_run)
    if as_json:
        _echo_json({"dry_run": dry_run, **_asdict(result)})
        return
    verb = "would delete" if dry_run else "deleted"
    entries = sum("/versions/" in key for key in result.deleted)
    click.echo(
        f"{verb} {len(result.deleted) - entries} shard(s) and {entries} history entries, "
        f"{result.bytes_freed:,} bytes; {result.kept_in_grace} kept inside the grace period; "
        f"{result.versions_kept} version(s) kept, {len(result.versions_removed)} removed by "
        "retention"
    )


def _asdict(value: Any) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(value)


def _duration(text: str) -> timedelta:
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    number, unit = text[:-1], text[-1:]
    if unit not in units or not number.isdigit():
        raise click.BadParameter(
            f"{text!r}: use a number and a unit, e.g. 30m, 1h, 7d", param_hint="--older-than"
        )
    return timedelta(**{units[unit]: int(number)})


@click.group()
def index() -> None:
    """Maintain the store's index.json (the list of datasets that search and list read)."""


@index.command("add")
@click.argument("path", type=click.Path(path_type=Path), default=Path("opendata.yaml"))
@_store_option
@_json_option
def index_add(path: Path, store: str | None, as_json: bool) -> None:
    """Add or refresh the index entry of an opendata.yaml."""
    entry = _client(store).index.register_from_file(path)
    if as_json:
        _echo_json(entry)
        return
    click.secho(f"added {entry.id} to index.json", fg="green")


@index.command("rebuild")
@_store_option
@_json_option
def index_rebuild(store: str | None, as_json: bool) -> None:
    """Recreate index.json from every dataset's metadata.json."""
    doc = _client(store).index.rebuild()
    if as_json:
        _echo_json({"datasets": [e.id for e in doc.datasets]})
        return
    click.secho(f"index.json rebuilt: {len(doc.datasets)} dataset(s)", fg="green")


@click.group()
def cache() -> None:
    """The local cache of verified shards (OPENDATA_CACHE_DIR, OPENDATA_CACHE_MAX)."""


@cache.command("info")
@_json_option
def cache_info(as_json: bool) -> None:
    """Where the cache is, how many entries and bytes it holds, and its cap."""
    import opendata as od

    info = od.cache().info()
    if as_json:
        _echo_json({**_asdict(info), "path": str(info.path)})
        return
    state = "on" if info.enabled else "off (OPENDATA_CACHE=0)"
    click.echo(
        f"{info.path}: {info.entries} entries, {info.bytes:,} bytes of {info.max_bytes:,} "
        f"(OPENDATA_CACHE_MAX); cache {state}"
    )


@cache.command("clear")
@_json_option
def cache_clear(as_json: bool) -> None:
    """Delete every cached entry (they are fetched again when needed)."""
    import opendata as od

    freed = od.cache().clear()
    if as_json:
        _echo_json({"bytes_freed": freed})
        return
    click.echo(f"cache cleared: {freed:,} bytes freed")


@click.group(hidden=True)
def registry() -> None:
    """Deprecated: `od index add` (this group never talked to the registry service)."""


@registry.command("add", hidden=True, params=index_add.params)
@click.pass_context
def registry_add(ctx: click.Context, /, **kwargs: Any) -> None:
    """Deprecated name of `od index add`; says so on stderr, then does the same."""
    from opendata_core.deprecation import renamed_message

    click.secho(
        f"warning: {renamed_message('od registry add', 'od index add')}", fg="yellow", err=True
    )
    ctx.invoke(index_add, **kwargs)


@click.command()
@click.argument("dataset_id")
@_store_option
@_json_option
def versions(dataset_id: str, store: str | None, as_json: bool) -> None:
    """List the kept versions of DATASET_ID, newest first.

    Each publish with its time, rows, bytes, coverage, schema change and provenance; load one
    with `od get --version ID` or od.load(..., version="ID").
    """
    found = _client(store).versions(dataset_id)
    if as_json:
        _echo_json(found)
        return
    from opendata_cli._tables import Column, print_table, short_time

    rows = []
    for v in found:
        where = v.provenance.commit[:12] if v.provenance.commit else (v.provenance.repo or "-")
        rows.append(
            (
                v.publish_id,
                v.published_at.strftime("%Y-%m-%d %H:%M"),
                f"{v.row_count:,}",
                f"{v.bytes:,}",
                f"{short_time(v.min_time)}..{short_time(v.max_time)}" if v.min_time else "-",
                "changed" if v.schema_changed else "",
                where,
            )
        )
    columns = [
        Column("version"),  # what users copy: never shortened
        Column("published UTC"),
        Column("rows", justify="right"),
        Column("bytes", justify="right", drop=2),
        Column("coverage", drop=1),
        Column("schema", drop=3),
        Column("from", drop=4, shrink=12),
    ]
    print_table(columns, rows)


@click.command()
@click.argument("dataset_id")
@click.argument("v1")
@click.argument("v2")
@click.option("--no-rows", is_flag=True, help="Skip the row comparison (schema and counts only).")
@_store_option
@_json_option
def diff(
    dataset_id: str, v1: str, v2: str, no_rows: bool, store: str | None, as_json: bool
) -> None:
    """Show what changed in DATASET_ID from version V1 to V2.

    Schema changes, row counts and coverage; with a primary key, the rows added, removed and
    changed. Only shards that differ between the versions are downloaded.
    """
    result = _client(store).diff(dataset_id, v1, v2, rows=not no_rows)
    if as_json:
        _echo_json({**_asdict(result), "schema": str(result.schema)})
        return
    click.echo(str(result))
