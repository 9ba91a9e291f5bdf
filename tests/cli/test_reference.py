from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from opendata_cli._reference import render

REPO = Path(__file__).resolve().parents[2]


def test_cli_reference_is_current() -> None:
    current = (REPO / "docs" / "cli-reference.md").read_text()
    assert current == render(), "run: uv run python scripts/gen_cli_reference.py"


def test_every_command_is_documented() -> None:
    text = render()
    for command in (
        "validate",
        "init",
        "deploy",
        "push",
        "get",
        "search",
        "info",
        "list",
        "gc",
        "index rebuild",
        "index add",
        "versions",
        "diff",
    ):
        assert f"## `od {command}`" in text


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from opendata_cli.main import cli; "
        "cli.main(['--help'], standalone_mode=False); "
        "print(sorted(m for m in ('pyarrow', 'polars', 'pandas', 'obstore', 'rich', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
