"""The ``od`` command: one click group; each command lives in ``opendata_cli.commands``.

Heavy libraries are imported inside the commands, so ``od --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import click

from opendata_cli._exit import CommandFailed, ExitCode, describe, epilog
from opendata_cli.commands.data import (
    cache,
    diff,
    gc,
    get,
    index,
    info,
    list_,
    push,
    registry,
    search,
    versions,
)
from opendata_cli.commands.demo import demo
from opendata_cli.commands.deploy import deploy
from opendata_cli.commands.init import init
from opendata_cli.commands.run import run
from opendata_cli.commands.validate import validate

__all__ = ["cli", "main"]


class _Group(click.Group):
    """Prints an error of :func:`~opendata_cli._exit.describe`'s table and exits with its code.

    One red line, a hint, the table's exit code; anything else is a bug and keeps its traceback.
    """

    def invoke(self, ctx: click.Context) -> Any:
        from opendata_cli._runner import debug_enabled

        try:
            with _library_warnings():
                return super().invoke(ctx)
        except BrokenPipeError:
            _quiet_closed_pipe()
            ctx.exit(ExitCode.OK)
        except Exception as exc:
            failure = describe(exc, ctx.invoked_subcommand or "COMMAND")
            if failure is None or (debug_enabled() and not isinstance(exc, CommandFailed)):
                raise
            if failure.message:
                click.secho(f"error: {failure.message}", fg="red", err=True)
            if failure.hint:
                click.echo(f"hint: {failure.hint}", err=True)
            _release(exc)
            ctx.exit(failure.code)


@contextlib.contextmanager
def _library_warnings() -> Iterator[None]:
    """The client's ``DeprecationWarning`` (a moved or deprecated dataset) as a yellow line.

    Python hides a ``DeprecationWarning`` outside ``__main__``; the client attributes it to its
    caller, here a command module, so it is shown, once, as ``warning: …`` on stderr.
    """
    import warnings

    def show(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
        click.secho(f"warning: {message}", fg="yellow", err=True)

    with warnings.catch_warnings():
        warnings.filterwarnings("default", category=DeprecationWarning, module=r"opendata_cli\.")
        previous = warnings.showwarning
        warnings.showwarning = show
        try:
            yield
        finally:
            warnings.showwarning = previous


def _release(exc: BaseException) -> None:
    """Free what the failed command's frames still hold, now rather than at interpreter exit.

    The exception's traceback keeps its frames' locals alive (Arrow readers and tables among
    them), in reference cycles that only the garbage collector breaks: left to the final
    collection at exit, Arrow objects are torn down after Arrow's thread pools, and a worker
    still joinable then aborts the process ("terminate called without an active exception",
    exit 134; apache/arrow#34314, #45017). Clearing the frames and collecting here, while
    everything is alive, lets them finish.
    """
    import gc
    import traceback

    for e in (exc, exc.__cause__, exc.__context__):
        if e is not None and e.__traceback__ is not None:
            traceback.clear_frames(e.__traceback__)
    gc.collect()


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
for _command in (push, get, search, info, versions, diff, list_, gc, index, registry, cache):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    sys.exit(cli.main(prog_name="od", standalone_mode=True))
