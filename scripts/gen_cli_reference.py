"""Write docs/cli-reference.md from the commands' --help (run after changing a command)."""

from pathlib import Path

from opendata_cli._reference import render

target = Path(__file__).resolve().parents[1] / "docs" / "cli-reference.md"
target.write_text(render())
print(f"wrote {target}")
