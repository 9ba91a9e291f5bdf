"""The import-linter contracts list every private module (its wildcards cannot say `_*`)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _private(package_dir: str, import_name: str) -> set[str]:
    src = ROOT / "packages" / package_dir / "src" / import_name
    return {f"{import_name}.{p.stem}" for p in src.glob("_*.py") if p.stem != "__init__"}


def test_the_private_module_contract_lists_every_private_module() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [
        c for c in config["contracts"] if c["name"].startswith("no package imports another")
    ]
    expected = _private("opendata-client", "opendata") | _private("opendata-core", "opendata_core")
    assert set(contract["forbidden_modules"]) == expected
