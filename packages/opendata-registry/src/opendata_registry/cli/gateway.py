"""``opendata-registry gateway``: the edge gateway's deny-list and usage.

- ``gateway sync``: write the deny-list document (revoked keys) the Worker reads from its KV
  namespace, to a file or stdout for ``wrangler kv key put``, or directly through wrangler
  (``--wrangler DIR``, the Worker's folder; add ``--local`` for ``wrangler dev``'s local KV).
- ``gateway ingest FILE``: fold usage events exported from the edge (JSON ``{"events": [...]}``
  or one event per line) into the usage counters; the Worker's queue consumer posts the same
  batches to ``POST /gateway/usage`` on its own.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import click

from opendata_core.errors import OpenDataError
from opendata_registry.cli.runner import run_with_registry as _run

__all__ = ["gateway"]


@click.group()
def gateway() -> None:
    """The edge gateway (packages/opendata-worker): deny-list and usage."""


@gateway.command("sync")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the document here (default: stdout).",
)
@click.option(
    "--wrangler",
    "worker_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Put it into the DENYLIST KV namespace with wrangler, run in this Worker folder.",
)
@click.option("--local", is_flag=True, help="With --wrangler: wrangler dev's local KV.")
@click.option(
    "--persist-to",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --local: the state folder `wrangler dev --persist-to` uses.",
)
def gateway_sync(
    output: Path | None, worker_dir: Path | None, local: bool, persist_to: Path | None
) -> None:
    """Write the deny-list of revoked keys that the Worker checks (KV key ``denied``)."""
    from opendata_registry.domain.gateway.services import DENY_KV_KEY, deny_list

    async def work(registry: Any) -> Any:
        async with registry.sessions() as session:
            return await deny_list(session)

    text = json.dumps(_run(work), separators=(",", ":"))
    if worker_dir is not None:
        script = worker_dir / "scripts" / "node22.sh"
        if not script.is_file() or shutil.which("sh") is None:
            raise OpenDataError(
                f"--wrangler {worker_dir}: no scripts/node22.sh there",
                hint="pass the packages/opendata-worker folder (after `npm ci` in it)",
            )
        command = ["sh", str(script), "wrangler", "kv", "key", "put", DENY_KV_KEY, text]
        command += ["--binding", "DENYLIST", "--local" if local else "--remote"]
        if local and persist_to is not None:
            command += ["--persist-to", str(persist_to.resolve())]
        # The operator's own Worker folder and wrangler; the document is an argument, no shell.
        done = subprocess.run(  # noqa: S603
            command, cwd=worker_dir, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise OpenDataError(
                f"wrangler could not write the deny-list: {done.stderr.strip()[-500:]}",
                hint="check `wrangler login` / CLOUDFLARE_API_TOKEN, or use --output and upload",
            )
        click.echo(f"deny-list written to KV ({'local' if local else 'remote'}): {text}", err=True)
        return
    if output is not None:
        output.write_text(text + "\n")
        click.echo(f"deny-list written to {output}", err=True)
        return
    click.echo(text)


@gateway.command("ingest")
@click.argument("source", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def gateway_ingest(source: Path, as_json: bool) -> None:
    """Fold edge usage events from SOURCE into the usage counters."""
    import msgspec

    from opendata_registry.domain.gateway.services import EdgeEvent, decode_batch, fold_events

    raw = source.read_bytes()
    if raw.lstrip().startswith(b"{") and b'"events"' in raw[:200]:
        events = decode_batch(raw).events
    else:
        events = []
        for number, line in enumerate(raw.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                events.append(msgspec.json.decode(line, type=EdgeEvent))
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise OpenDataError(
                    f"{source}:{number}: not a gateway event: {exc}",
                    hint='each line: {"sub": "key:1", "status": 200, "bytes": 123}',
                ) from None

    async def work(registry: Any) -> int:
        count = fold_events(registry.usage, events)
        await registry.usage.flush()
        return count

    count = _run(work)
    if as_json:
        click.echo(json.dumps({"events": count}))
        return
    click.echo(f"{count} edge events folded into usage")
