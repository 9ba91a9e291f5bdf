"""``od run``: run main.py and publish what main() returns, with checks and a run record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from opendata_cli._runner import RunOutcome

__all__ = ["print_outcome", "run"]


@click.command()
@click.argument("path", type=click.Path(path_type=Path), default=".", required=False)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Run main.py and check what it returns; publish nothing and write no run record.",
)
@click.option(
    "--allow-schema-change",
    is_flag=True,
    help="Publish even if the columns or their types changed since the last publish.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.pass_context
def run(
    ctx: click.Context, path: Path, dry_run: bool, allow_schema_change: bool, as_json: bool
) -> None:
    """Run main.py in PATH (default: .) and publish what main() returns.

    Reads opendata.yaml, imports main.py, calls main() from PATH and checks the result: it has
    rows, the time_column is there and is a date or timestamp, the primary_key is unique. Then it
    publishes to the store (OPENDATA_STORE, else the local store) and writes a run record, for a
    failure too. A failed check publishes nothing; so does a changed schema (added, removed or
    retyped columns) unless --allow-schema-change. With OPENDATA_REGISTRY (and no
    OPENDATA_STORE) it publishes through the registry.

    main() may return a pandas or polars DataFrame, a pyarrow Table, a list of them, a stream
    published batch by batch without holding it all in memory (a polars LazyFrame, a pyarrow
    RecordBatchReader or dataset, a generator of frames), or None when it called od.push itself.

    Exit codes: 0 published (or checked, with --dry-run); 1 main.py failed or returned bad data;
    3 publishing failed (store unreachable, permission denied, conflict); 2 is a usage error.
    """
    from opendata_cli._progress import transfer_progress
    from opendata_cli._runner import debug_enabled, github_report, run_producer

    # The same bar as `od push`: drawn on stderr, only in a terminal, only for long uploads.
    with transfer_progress("publishing") as progress:
        outcome = run_producer(
            path,
            dry_run=dry_run,
            quiet_stdout=as_json,
            progress=progress,
            allow_schema_change=allow_schema_change,
        )
    if debug_enabled() and outcome.exception is not None:
        import traceback

        traceback.print_exception(outcome.exception)
    if as_json:
        github_report(outcome, lambda line: click.echo(line, err=True))
        click.echo(json.dumps(outcome.to_dict(), indent=2))
    else:
        print_outcome(outcome)
        github_report(outcome, click.echo)
    ctx.exit(outcome.exit_code)


def print_outcome(outcome: RunOutcome) -> None:
    """The human-readable report of one run: results on stdout, problems on stderr."""
    for w in outcome.warnings:
        click.secho(f"warning: {w}", fg="yellow", err=True)
    if not outcome.ok:
        # The class (network, parse, validation, upload, permission, unknown), as in the run
        # record, the JSON output and the GitHub annotation.
        click.secho(f"error [{outcome.error_class}]: {outcome.message}", fg="red", err=True)
        if outcome.hint:
            click.echo(f"hint: {outcome.hint}", err=True)
        return
    cov = f", {outcome.coverage}" if outcome.coverage else ""
    took = f" in {outcome.main_seconds:.2f}s" if outcome.main_seconds is not None else ""
    shape = f"{outcome.rows or 0:,} rows × {len(outcome.columns)} columns"  # noqa: RUF001
    click.echo(f"main() returned {shape}{took}")
    if outcome.dry_run:
        click.secho(
            f"dry run: {outcome.dataset_id} passed the checks ({outcome.rows or 0:,} rows{cov}); "
            "nothing was published",
            fg="green",
        )
        return
    r = outcome.result
    if r is not None and r.unchanged:
        click.secho(
            f"unchanged {r.dataset_id}: {r.rows:,} rows{cov}, identical to publish "
            f"{r.publish_id}; nothing new was committed",
            fg="green",
        )
    elif r is not None:
        click.secho(
            f"published {r.dataset_id}: {r.rows:,} rows{cov}; {r.shards_written} shard(s) written, "
            f"{r.shards_reused} reused, {r.bytes:,} bytes (schema {r.schema_hash[:12]})",
            fg="green",
        )
    else:
        click.secho(f"main() published {outcome.dataset_id} itself ({outcome.rows:,} rows{cov})")
    click.echo(f'load it: od.load("{outcome.dataset_id}")')
