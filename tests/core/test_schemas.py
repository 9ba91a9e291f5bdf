"""docs/schemas/ holds the current JSON Schemas of the wire documents."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("gen_schemas", ROOT / "scripts" / "gen_schemas.py")
assert _spec is not None and _spec.loader is not None
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)


@pytest.mark.parametrize("name", sorted(gen.DOCUMENTS))
def test_published_schema_is_current(name: str) -> None:
    committed = (ROOT / "docs" / "schemas" / name).read_text(encoding="utf-8")
    assert committed == gen.render(gen.DOCUMENTS[name]), (
        "stale: run `uv run python scripts/gen_schemas.py`"
    )
