"""The ``od`` command: one click group; each command lives in ``opendata_cli.commands``.

Heavy libraries are imported inside the commands, so ``od --help`` stays fast.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from opendata_cli._exit import ExitCode, epilog, for_exception
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
        from opendata_cli._runner import debug_enabled
        from opendata_core.errors import OpenDataError

        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _quiet_closed_pipe()
            ctx.exit(ExitCode.OK)
        except OpenDataError as exc:
            if debug_enabled():
                raise
            click.secho(f"error: {exc}", fg="red", err=True)
            if exc.shell_hint or exc.hint:  # a shell command where the error has one
                click.echo(f"hint: {exc.shell_hint or exc.hint}", err=True)
            ctx.exit(for_exception(exc))
        except (ValueError, TypeError, OSError) as exc:
            # Bad input that reached a library (a date that does not parse, a missing file):
            # still one line, never a bare traceback, and a hint that helps with the input.
            if debug_enabled():
                raise
            click.secho(f"error: {exc}", fg="red", err=True)
            if isinstance(exc, ValueError):
                command = ctx.invoked_subcommand or "COMMAND"
                click.echo(f"hint: `od {command} --help` lists what each option accepts", err=True)
            elif isinstance(exc, TypeError):
                click.echo(
                    "hint: this is a bug in od; please report it with the output of the same "
                    "command run with OPENDATA_DEBUG=1",
                    err=True,
                )
            # An OSError names the file and what went wrong with it: no hint needed.
            ctx.exit(ExitCode.FAILED)


def _quiet_closed_pipe() -> None:
    """The reader of our stdout went away (``od list | head``): stop without a word.

    Python would complain again when it flushes stdout at exit, so stdout is pointed at
    /dev/null first (the recipe of the ``signal`` module's documentation).
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (tests); nothing is flushed at exit
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"]},
    invoke_without_command=True,
    epilog=epilog(),
)
@click.version_option(package_name="opendata-cli", prog_name="od")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """OpenData: publish and load open datasets.

    Set OPENDATA_DEBUG=1 to see tracebacks.
    """
    if ctx.invoked_subcommand is None:
        # Bare `od` is a request for help, not a mistake.
        click.echo(ctx.get_help())
        ctx.exit(ExitCode.OK)


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
