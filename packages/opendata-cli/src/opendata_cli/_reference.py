"""Render the CLI reference (docs/cli-reference.md) from the commands' own ``--help``."""

from __future__ import annotations

import click

__all__ = ["render"]


def _walk(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    out = [(path, command)]
    if isinstance(command, click.Group):
        for name in sorted(command.list_commands(click.Context(command))):
            sub = command.get_command(click.Context(command), name)
            if sub is not None and not sub.hidden:
                out += _walk(sub, [*path, name])
    return out


def render() -> str:
    """The Markdown reference: one section per command with its ``--help`` text."""
    from opendata_cli.main import cli

    parts = [
        "# CLI reference",
        "",
        "Generated from `od ... --help` by `uv run python scripts/gen_cli_reference.py`;",
        "a test fails when this file is out of date.",
        "",
    ]
    for path, command in _walk(cli, ["od"]):
        ctx = click.Context(
            command, info_name=" ".join(path), terminal_width=100, max_content_width=100
        )
        parts += [
            f"## `{' '.join(path)}`",
            "",
            "```text",
            command.get_help(ctx).rstrip(),
            "```",
            "",
        ]
    return "\n".join(parts)
