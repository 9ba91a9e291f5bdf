"""The ``od`` command: one click group; each command lives in ``opendata_cli.commands``.

Heavy libraries are imported inside the commands, so ``od --help`` stays fast.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from opendata_cli.commands.data import gc, get, index, info, list_, push, registry, search
from opendata_cli.commands.demo import demo
from opendata_cli.commands.deploy import deploy
from opendata_cli.commands.init import init
from opendata_cli.commands.run import run
from opendata_cli.commands.validate import validate

__all__ = ["cli", "main"]


class _Group(click.Group):
    """Turns every ``OpenDataError`` into one red line plus a hint, and a non-zero exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        from opendata_core.errors import OpenDataError

        try:
            return super().invoke(ctx)
        except OpenDataError as exc:
            if os.environ.get("OPENDATA_DEBUG") == "1":
                raise
            click.secho(f"error: {exc}", fg="red", err=True)
            if exc.shell_hint or exc.hint:  # a shell command where the error has one
                click.echo(f"hint: {exc.shell_hint or exc.hint}", err=True)
            ctx.exit(1)
        except (ValueError, TypeError, OSError) as exc:
            # Bad input that reached a library (a date that does not parse, a missing file):
            # still one line, never a bare traceback.
            if os.environ.get("OPENDATA_DEBUG") == "1":
                raise
            click.secho(f"error: {exc}", fg="red", err=True)
            click.echo("hint: set OPENDATA_DEBUG=1 to see the traceback", err=True)
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="opendata-cli", prog_name="od")
def cli() -> None:
    """OpenData: publish and load open datasets.

    Set OPENDATA_DEBUG=1 to see tracebacks.
    """


cli.add_command(validate)
cli.add_command(init)
cli.add_command(deploy)
cli.add_command(run)
cli.add_command(demo)
for _command in (push, get, search, info, list_, gc, index, registry):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    sys.exit(cli.main(prog_name="od", standalone_mode=True))
