"""Docstrings and docs cite only files that exist in the repository (issue 8)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CITED = re.compile(
    r"\b((?:docs|scripts|tests|benchmarks|examples|packages)/[\w./-]*\w\.(?:md|py|json|ya?ml|toml|tmpl))"
)


def _sources() -> list[Path]:
    files = [*ROOT.glob("packages/*/src/**/*.py"), *ROOT.glob("packages/*/src/**/*.tmpl")]
    files += [*ROOT.glob("docs/**/*.md"), ROOT / "README.md", *ROOT.glob("packages/*/README.md")]
    return sorted(files)


def test_every_cited_file_exists() -> None:
    missing = [
        f"{path.relative_to(ROOT)}: {cited}"
        for path in _sources()
        for cited in CITED.findall(path.read_text(encoding="utf-8"))
        if not (ROOT / cited).exists() and "/.data/" not in cited  # .data: generated output
    ]
    assert missing == []
