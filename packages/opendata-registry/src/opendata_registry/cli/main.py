"""``opendata-registry``: serve, sync the catalogue, manage API keys.

Settings come from the environment (see :mod:`opendata_registry.infra.settings`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import click

from opendata_core.errors import OpenDataError
from opendata_registry.cli.gateway import gateway
from opendata_registry.cli.lifecycle import datasets, namespaces
from opendata_registry.cli.publishing import tokens
from opendata_registry.cli.runner import run_with_registry as _run
from opendata_registry.infra.settings import TIERS, Settings

__all__ = ["main"]


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OpenDataError as exc:
            click.secho(f"error: {exc.message}", fg="red", err=True)
            if exc.hint:
                click.echo(f"hint: {exc.hint}", err=True)
            ctx.exit(1)


@click.group(cls=_Group)
@click.version_option(package_name="opendata-registry")
def main() -> None:
    """The OpenData registry: catalogue, search and signed downloads over a bucket."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, workers: int) -> None:
    """Serve the API with granian (migrates and syncs the catalogue first)."""
    from granian import Granian
    from granian.constants import Interfaces

    settings = Settings.from_env()  # fails early on a bad setting, before any worker starts
    # Migrate and sync once before the workers start, in a child process: the workers are
    # forked, and obstore's runtime does not survive a fork of a process that used it.
    done = subprocess.run([sys.executable, "-m", "opendata_registry.cli.main", "sync"], check=False)
    if done.returncode != 0:
        raise SystemExit(done.returncode)
    click.echo(
        f"opendata-registry serving {settings.store} on http://{host}:{port} "
        f"({workers} worker{'s' if workers > 1 else ''})",
        err=True,
    )
    Granian(
        "opendata_registry.app:create_app",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        factory=True,
        log_access=False,
    ).serve()


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar (default: when stderr is a terminal).",
)
@click.option(
    "--batch-size",
    default=500,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Datasets written per transaction (each batch is a checkpoint).",
)
@click.option(
    "--changed",
    is_flag=True,
    help="List the store only if index.json changed since the last sync (one HEAD request).",
)
@click.option(
    "--snapshot/--no-snapshot",
    default=True,
    show_default=True,
    help="Fill an empty catalogue from the store's catalogue snapshot when it has one.",
)
def sync(
    as_json: bool, progress: bool | None, batch_size: int, changed: bool, snapshot: bool
) -> None:
    """Read every dataset in the store into the catalogue and rewrite index.json.

    Only documents whose ETag changed are read. Each batch of datasets is committed on its own:
    an interrupted sync, run again, goes on where it stopped. An empty catalogue is filled from
    the store's catalogue snapshot (registry/snapshot.json) when there is one: a few large
    reads instead of three per dataset.
    """
    show = sys.stderr.isatty() if progress is None else progress

    async def work(registry: Any) -> Any:
        if not show:
            return await registry.sync(
                wait=True, changed=changed, batch_size=batch_size, snapshot=snapshot
            )
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        columns = (
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
            task = bar.add_task("syncing datasets", total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            return await registry.sync(
                wait=True,
                changed=changed,
                progress=advance,
                batch_size=batch_size,
                snapshot=snapshot,
            )

    report = _run(work)
    data = {
        "datasets": report.datasets,
        "updated": report.updated,
        "removed": report.removed,
        "publishes_added": report.publishes_added,
        "runs_added": report.runs_added,
        "index_written": report.index_written,
        "listed": report.listed,
        "snapshot": report.snapshot,
        "from_documents": report.from_documents,
        "problems": report.problems,
    }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    if report.snapshot is not None:
        click.echo(
            f"{report.datasets} datasets from catalogue snapshot {report.snapshot} "
            f"({report.from_documents} read from their own documents)"
        )
    elif not report.listed:
        click.echo(f"{report.datasets} datasets; index.json unchanged since the last sync")
        return
    else:
        click.echo(
            f"{report.datasets} datasets; {len(report.updated)} updated, {len(report.removed)} "
            f"removed, {report.publishes_added} publishes and {report.runs_added} runs added"
            + ("; index.json written" if report.index_written else "")
        )
    for problem in report.problems:
        click.secho(f"skipped: {problem}", fg="yellow", err=True)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.option(
    "--force", is_flag=True, help="Write one even if nothing was published since the last."
)
def snapshot(as_json: bool, force: bool) -> None:
    """Write the catalogue to the store as a snapshot (what a fresh database's sync reads).

    A running registry writes one every OPENDATA_REGISTRY_SNAPSHOT_INTERVAL seconds when the
    catalogue changed; run this after a first sync, or before restoring a database.
    """

    async def work(registry: Any) -> Any:
        return await registry.snapshot(force=force)

    info = _run(work)
    if info is None:
        message = "no snapshot written: the current one is up to date (--force writes one)"
        if as_json:
            click.echo(json.dumps({"written": False, "message": message}))
        else:
            click.echo(message)
        return
    size = sum(p.bytes for p in info.parts)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "written": True,
                    "snapshot_id": info.snapshot_id,
                    "datasets": info.datasets,
                    "parts": len(info.parts),
                    "bytes": size,
                    "raw_bytes": sum(p.raw_bytes for p in info.parts),
                }
            )
        )
        return
    click.echo(
        f"snapshot {info.snapshot_id}: {info.datasets} datasets in {len(info.parts)} parts, "
        f"{size / 1e6:,.1f} MB"
    )


@main.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.option("--tier", type=click.Choice(TIERS), default="free", show_default=True)
@click.option("--name", default="", help="Who or what the key is for.")
@click.option("--json", "as_json", is_flag=True)
def keys_create(tier: str, name: str, as_json: bool) -> None:
    """Create a key; it is printed once and cannot be shown again."""
    from opendata_registry.domain.keys.services import KeyService

    async def work(registry: Any) -> Any:
        async with registry.sessions() as session:
            return await KeyService(session).create(tier=tier, name=name)

    key, info = _run(work)
    if as_json:
        click.echo(json.dumps({"key": key, "id": info.id, "prefix": info.prefix, "tier": tier}))
        return
    click.echo(key)
    click.echo(f"key {info.id} ({tier}) created; store it now, it is not shown again", err=True)


@keys.command("list")
@click.option("--json", "as_json", is_flag=True)
def keys_list(as_json: bool) -> None:
    """List keys (their public prefix, never the key)."""
    from opendata_registry.domain.keys.services import KeyService

    async def work(registry: Any) -> Any:
        async with registry.sessions() as session:
            return await KeyService(session).list()

    rows = _run(work)
    data = [
        {
            "id": k.id,
            "prefix": k.prefix,
            "name": k.name,
            "tier": k.tier,
            "created_at": k.created_at.isoformat(),
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
        }
        for k in rows
    ]
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for k in data:
        state = f"revoked {k['revoked_at']}" if k["revoked_at"] else "active"
        click.echo(f"{k['id']:>4}  {k['prefix']}…  {k['tier']:<10}  {state:<10}  {k['name']}")


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by id or prefix; it fails from its next request on."""
    from opendata_registry.domain.keys.services import KeyService

    async def work(registry: Any) -> Any:
        async with registry.sessions() as session:
            return await KeyService(session).revoke(key_id)

    info = _run(work)
    click.echo(f"key {info.id} ({info.prefix}…) revoked")


for _group in (namespaces, tokens, datasets, gateway):
    main.add_command(_group)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
