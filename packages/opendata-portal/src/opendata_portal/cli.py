"""``opendata-portal``: run the portal (``serve``).

Example::

    OPENDATA_PORTAL_REGISTRY_URL=http://127.0.0.1:8000 opendata-portal serve --port 8001
"""

from __future__ import annotations

import click

from opendata_portal.settings import Settings

__all__ = ["main"]


def app_from_env() -> object:
    """The ASGI app built from the environment (granian's factory target)."""
    from opendata_portal.app import create_app

    return create_app(Settings.from_env())


@click.group()
@click.version_option(package_name="opendata-portal")
def main() -> None:
    """The OpenData web portal: search and dataset pages, read from a registry."""


@main.command()
@click.option("--host", help="Address to listen on (default: OPENDATA_PORTAL_HOST or 127.0.0.1).")
@click.option(
    "--port", type=click.IntRange(0, 65535), help="Port (default: OPENDATA_PORTAL_PORT or 8001)."
)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True)
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Serve the portal with granian until interrupted."""
    from granian.constants import Interfaces
    from granian.server import Server

    from opendata_core.errors import OpenDataError

    try:
        settings = Settings.from_env()
    except OpenDataError as exc:
        raise click.ClickException(f"{exc.message}\nhint: {exc.hint}") from None
    host = host or settings.host
    port = settings.port if port is None else port
    click.echo(
        f"OpenData portal on http://{host}:{port} (registry {settings.registry_url})", err=True
    )
    Server(
        "opendata_portal.cli:app_from_env",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        factory=True,
        log_access=False,
    ).serve()


if __name__ == "__main__":  # `python -m opendata_portal.cli serve` (how `od demo` starts it)
    main()
