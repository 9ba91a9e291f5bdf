"""``od demo``: publish every example dataset offline, then show how to load each one.

Each example folder holds a ``fixtures/`` directory: files in the real source's format and a
``routes.json`` that says which URL path (and query parameters) each file answers. ``od demo``
serves them on 127.0.0.1, points the example's ``main.py`` at that server through
``OPENDATA_SOURCE_URL`` and runs it exactly as ``od run`` would, into the local store. No network,
no keys; a second run re-uses every shard.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import click

from opendata_cli._exit import ExitCode

if TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler

    from opendata_cli._runner import RunOutcome

__all__ = ["Route", "demo", "find_examples", "load_routes", "serve_fixtures", "shipped_examples"]

ROUTES_FILE = "routes.json"


@dataclass(frozen=True)
class Route:
    """One fixture file and the request it answers.

    ``path`` is matched exactly, or as a prefix when it ends with ``*``; every ``query``
    parameter must be in the request with that value (others are ignored). The most specific
    route wins: an exact path before a prefix, then the most query parameters.
    """

    path: str
    file: Path
    query: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/octet-stream"
    status: int = 200

    def matches(self, path: str, query: dict[str, list[str]]) -> bool:
        """Whether a request for ``path`` with ``query`` is answered by this route."""
        if self.path.endswith("*"):
            if not path.startswith(self.path[:-1]):
                return False
        elif path != self.path:
            return False
        return all(query.get(k, [None])[-1] == v for k, v in self.query.items())

    @property
    def specificity(self) -> tuple[int, int, int]:
        """Sort key: exact paths first, then longer prefixes, then more query parameters."""
        exact = not self.path.endswith("*")
        return (int(exact), len(self.path), len(self.query))


def load_routes(fixtures: Path) -> list[Route]:
    """Read ``fixtures/routes.json``.

    The file looks like ``{"source": "https://fred.stlouisfed.org", "routes": [{"path":
    "/graph/fredgraph.csv", "query": {"id": "UNRATE"}, "file": "fredgraph-UNRATE.csv",
    "content_type": "text/csv"}]}``.

    Raises:
        OpenDataError: the file is missing or malformed, or names a file that does not exist.
    """
    from opendata_core.errors import OpenDataError

    path = fixtures / ROUTES_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        routes = [
            Route(
                path=str(r["path"]),
                file=fixtures / str(r["file"]),
                query={str(k): str(v) for k, v in (r.get("query") or {}).items()},
                content_type=str(r.get("content_type") or "application/octet-stream"),
                status=int(r.get("status", 200)),
            )
            for r in doc["routes"]
        ]
    except FileNotFoundError:
        raise OpenDataError(
            f"{path} not found",
            hint="list the fixture files and the URL paths they answer in fixtures/routes.json",
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise OpenDataError(
            f"{path}: not a valid routes file ({type(exc).__name__}: {exc})",
            hint='expected {"routes": [{"path": "/...", "file": "...", "query": {...}}]}',
        ) from None
    for route in routes:
        if not route.file.is_file():
            raise OpenDataError(f"{path}: {route.file.name} does not exist")
    return routes


def _handler(routes: list[Route]) -> type[BaseHTTPRequestHandler]:
    from http.server import BaseHTTPRequestHandler

    ordered = sorted(routes, key=lambda r: r.specificity, reverse=True)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query, keep_blank_values=True)
            route = next((r for r in ordered if r.matches(url.path, query)), None)
            if route is None:
                body = f"no fixture answers {url.path}?{url.query}\n".encode()
                self._send(404, "text/plain; charset=utf-8", body)
                return
            self._send(route.status, route.content_type, route.file.read_bytes())

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the demo's and the tests' output clean

    return Handler


@contextlib.contextmanager
def serve_fixtures(fixtures: Path) -> Iterator[str]:
    """Serve a ``fixtures/`` folder on 127.0.0.1 (a free port) and yield its base URL.

    Example:
        >>> fixtures = Path("examples/fred-unemployment-rate/fixtures")
        >>> with serve_fixtures(fixtures) as url:  # doctest: +SKIP
        ...     httpx.get(f"{url}/graph/fredgraph.csv?id=UNRATE").text[:23]
        'observation_date,UNRATE'
    """
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(load_routes(fixtures)))
    server.daemon_threads = True
    # shutdown() waits for the loop's next poll: the default 0.5 s cost each example that much.
    thread = threading.Thread(
        target=server.serve_forever, args=(0.02,), name="od-demo-fixtures", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _has_examples(folder: Path) -> bool:
    return folder.is_dir() and any(
        (d / "opendata.yaml").is_file() and (d / "fixtures" / ROUTES_FILE).is_file()
        for d in folder.iterdir()
        if d.is_dir()
    )


def _checkout() -> Path | None:
    """The repository this package runs from (``uv run``, an editable install), or ``None``."""
    package = Path(__file__).resolve().parents[1]
    root = package.parents[3]  # <root>/packages/opendata-cli/src/opendata_cli
    if package.parent.name == "src" and (root / "packages" / "opendata-cli").is_dir():
        return root
    return None


def shipped_examples() -> Path | None:
    """The example datasets that come with this package, or ``None`` (a broken install).

    A wheel carries them as package data (``opendata_cli/examples/``, copied from the
    repository's ``examples/`` when it is built: ``hatch_build.py``); a source checkout uses the
    repository's ``examples/`` itself.
    """
    checkout = _checkout()
    candidates = [Path(__file__).resolve().parents[1] / "examples"]
    if checkout is not None:
        candidates.append(checkout / "examples")
    return next((c for c in candidates if _has_examples(c)), None)


def find_examples(start: Path | None = None) -> Path | None:
    """The folder of example datasets, or ``None``.

    Looked for in ``start`` (default: the current directory) itself, then as ``examples/`` in it
    or a parent (your own copy wins), then the ones shipped with this package.
    """
    start = (start or Path.cwd()).resolve()
    candidates = [start, *(p / "examples" for p in (start, *start.parents))]
    found = next((c for c in candidates if _has_examples(c)), None)
    return found or shipped_examples()


@click.command()
@click.option(
    "--examples",
    "examples_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="The folder of example datasets (default: ./examples found upwards, else the ones "
    "that come with opendata-cli).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.option(
    "--serve/--no-serve",
    default=True,
    show_default=True,
    help="After publishing, run the registry and the portal on 127.0.0.1 until Ctrl-C.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help="The portal's port (default: a free one).",
)
@click.option(
    "--registry-port",
    type=click.IntRange(1, 65535),
    help="The registry's port (default: a free one).",
)
@click.pass_context
def demo(
    ctx: click.Context,
    examples_dir: Path | None,
    as_json: bool,
    serve: bool,
    port: int | None,
    registry_port: int | None,
) -> None:
    """Publish every example dataset offline, then serve the portal and the registry over them.

    Each example's main.py runs exactly as `od run` runs it, but reads its source from the
    files in its fixtures/ folder, served on 127.0.0.1, and publishes into the local store
    ($OPENDATA_HOME/store). Nothing leaves the machine and no keys are needed. Running it again
    re-uses every shard.

    Then (unless --no-serve) it starts the registry and the web portal on 127.0.0.1, prints the
    portal's URL and a Python line that loads through the registry, and serves until Ctrl-C.
    Exits 1 if any example failed to run, 3 if publishing failed.
    """
    from opendata import settings
    from opendata_cli._producer import _env
    from opendata_cli._runner import SOURCE_URL_ENV, run_producer
    from opendata_core.errors import OpenDataError

    if examples_dir is not None:
        root = examples_dir.resolve() if _has_examples(examples_dir) else None
        if root is None:
            raise OpenDataError(
                f"no examples in {examples_dir} (sub-folders with opendata.yaml and "
                f"fixtures/{ROUTES_FILE})",
                hint="pass a folder laid out like the repository's examples/, or leave out "
                "--examples to use the ones that come with opendata-cli",
            )
    else:
        root = find_examples()
    if root is None:
        raise OpenDataError(
            "the example datasets that come with opendata-cli are missing from "
            f"{Path(__file__).resolve().parents[1] / 'examples'}",
            hint="reinstall it: pip install --force-reinstall opendata-cli",
        )
    folders = sorted(
        d
        for d in root.iterdir()
        if (d / "opendata.yaml").is_file() and (d / "fixtures" / ROUTES_FILE).is_file()
    )
    current = settings()
    store = str(current.home / "store")
    # od.load() reads OPENDATA_STORE when it is set: then the printed lines name the store.
    custom_store = current.store_env not in (None, store)
    outcomes: list[RunOutcome] = []
    if not as_json:
        click.echo(f"publishing {len(folders)} example datasets into {store} (offline)")
        click.echo(f"their producers (main.py, opendata.yaml, source snapshots): {root}\n")
    for folder in folders:
        with (
            serve_fixtures(folder / "fixtures") as url,
            _env(**{SOURCE_URL_ENV: url, "OPENDATA_STORE": store}),
        ):
            outcome = run_producer(folder, store=store, quiet_stdout=as_json)
        outcomes.append(outcome)
        if not as_json:
            _print_one(outcome, store if custom_store else None)
    exit_code = max((o.exit_code for o in outcomes), default=ExitCode.OK)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "store": store,
                    "examples": str(root),
                    "ok": exit_code == ExitCode.OK,
                    "datasets": [
                        {**o.to_dict(), "load": _load_line(o, store if custom_store else None)}
                        for o in outcomes
                    ],
                },
                indent=2,
            )
        )
    else:
        ok = sum(o.ok for o in outcomes)
        click.echo(f"{ok} of {len(outcomes)} published. In Python: import opendata as od")
    if serve and exit_code == ExitCode.OK:
        first = next((o.dataset_id for o in outcomes if o.ok and o.dataset_id), None)
        exit_code = _serve(settings().home, port, registry_port, first)
    ctx.exit(exit_code)


def _serve(home: Path, port: int | None, registry_port: int | None, example: str | None) -> int:
    """Run the registry and the portal until Ctrl-C; the exit code of ``od demo``."""
    from opendata_cli._services import missing_servers, run_services

    missing = missing_servers()
    if missing:
        click.echo(
            f"\nTo browse these datasets in the web portal, install {' and '.join(missing)}: "
            "pip install 'opendata-cli[demo]' (or pass --no-serve to skip this step)",
            err=True,
        )
        return ExitCode.OK
    click.echo("\nstarting the registry and the portal on 127.0.0.1 …", err=True)
    with run_services(home, port=port, registry_port=registry_port) as services:
        click.echo(f"\nPortal:        {services.portal_url}")
        click.echo(f"Registry API:  {services.registry_url}/v1/datasets")
        if example:
            click.echo("\nLoad through the registry, in another terminal:")
            click.echo(
                f"  OPENDATA_REGISTRY={services.registry_url} {_python()} -c "
                f"'import opendata as od; print(od.load(\"{example}\").tail())'"
            )
        click.echo("\nServing until Ctrl-C.", err=True)
        code = services.wait()
    if code is None:
        click.echo("stopped.", err=True)
        return ExitCode.OK
    click.secho(f"a server exited with code {code}; see {home / 'demo'}", fg="red", err=True)
    return ExitCode.FAILED


def _python() -> str:
    """How to start this Python in a shell: ``uv run python`` in the repository."""
    import shlex
    import sys

    return "uv run python" if _checkout() is not None else shlex.quote(sys.executable)


def _load_line(outcome: RunOutcome, store: str | None) -> str | None:
    if not outcome.ok or outcome.dataset_id is None:
        return None
    if store is None:
        return f'od.load("{outcome.dataset_id}")'
    return f'od.Client({store!r}).load("{outcome.dataset_id}")'


def _print_one(outcome: RunOutcome, store: str | None) -> None:
    name = outcome.dataset_id or outcome.folder.name
    if not outcome.ok:
        click.secho(f"✗ {name}: failed ({outcome.error_class})", fg="red")
        click.secho(f"    error [{outcome.error_class}]: {outcome.message}", fg="red", err=True)
        if outcome.hint:
            click.echo(f"    hint: {outcome.hint}", err=True)
        click.echo()
        return
    r = outcome.result
    cov = f", {outcome.coverage}" if outcome.coverage else ""
    shards = f"; {r.shards_written} shard(s) written, {r.shards_reused} reused" if r else ""
    click.secho(f"✓ {name}: {outcome.rows or 0:,} rows{cov}{shards}", fg="green")
    for w in outcome.warnings:
        click.secho(f"    warning: {w}", fg="yellow", err=True)
    click.echo(f"    {_load_line(outcome, store)}\n")
