"""Render the CLI reference (docs/cli-reference.md) from the commands' own ``--help``."""

from __future__ import annotations

import click

__all__ = ["render"]


def _sections(command: click.Command, name: str, parent: click.Context | None) -> list[str]:
    # Contexts are chained like a real invocation, so inherited settings (-h) show as they do.
    ctx = click.Context(
        command,
        parent=parent,
        info_name=name,
        terminal_width=100,
        max_content_width=100,
        **command.context_settings,
    )
    out = [f"## `{ctx.command_path}`", "", "```text", command.get_help(ctx).rstrip(), "```", ""]
    if isinstance(command, click.Group):
        for sub_name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, sub_name)
            if sub is not None and not sub.hidden:
                out += _sections(sub, sub_name, ctx)
    return out


def render() -> str:
    """The Markdown reference: one section per command with its ``--help`` text."""
    from opendata_cli.main import cli

    header = [
        "# CLI reference",
        "",
        "Generated from `od ... --help` by `uv run python scripts/gen_cli_reference.py`;",
        "a test fails when this file is out of date.",
        "",
    ]
    return "\n".join(header + _sections(cli, "od", None))
