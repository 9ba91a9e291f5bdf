"""Messages that send people the right way (issue 23 §4).

Each test pins what a message must say (what happened, what to do), not its exact words.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from opendata_cli.main import cli

PACKAGES = Path(__file__).resolve().parents[2] / "packages"
_REGISTRY_COMMAND = re.compile(r"opendata-registry((?: [a-z][a-z-]*){2})")
_OD_COMMAND = re.compile(r"`od ([a-z][a-z-]*)")


def _texts(path: Path) -> Iterator[str]:
    """Every string literal of a module, f-strings with their literal parts only."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value
        elif isinstance(node, ast.JoinedStr):
            yield "".join(
                v.value if isinstance(v, ast.Constant) else "{}"
                for v in node.values
                if isinstance(v, ast.Constant | ast.FormattedValue)
            )


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGES.glob("*/src/**/*.py"))


def _resolves(group: click.Group, words: list[str]) -> bool:
    command: click.Command = group
    ctx = click.Context(group)
    for word in words:
        if not isinstance(command, click.Group):
            return True  # the rest are arguments
        found = command.get_command(ctx, word)
        if found is None:
            return False
        command = found
    return True


def test_every_command_a_message_names_exists() -> None:
    """A hint that names `opendata-registry producers create` (there is no such command) sends
    the reader nowhere: every command named in a message of any package must exist."""
    from opendata_registry.cli import main as registry

    wrong = []
    for path in _sources():
        for text in _texts(path):
            for match in _REGISTRY_COMMAND.finditer(text):
                words = [w for w in match[1].split() if w != "-"]
                if not _resolves(registry, words[:2]):
                    wrong.append(f"{path.name}: opendata-registry {' '.join(words)}")
            for match in _OD_COMMAND.finditer(text):
                if not _resolves(cli, [match[1]]):
                    wrong.append(f"{path.name}: od {match[1]}")
    assert wrong == []


def test_the_missing_credentials_hint_names_the_token_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    for name in ("OPENDATA_STORE", "OPENDATA_PUBLISH_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENDATA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPENDATA_REGISTRY", "http://127.0.0.1:9")
    csv = tmp_path / "x.csv"
    csv.write_text("a\n1\n")
    result = CliRunner().invoke(cli, ["push", str(csv), "acme/x"])
    assert result.exit_code != 0
    assert "OPENDATA_PUBLISH_TOKEN" in result.stderr
    assert "opendata-registry tokens create" in result.stderr, result.stderr
