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


def _registry_contract(prefix: str) -> dict[str, object]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["name"].startswith(prefix)]
    return dict(contract)


def _names(layers: object) -> set[str]:
    assert isinstance(layers, list)
    return {n.strip().strip("()") for layer in layers for n in layer.replace("|", ":").split(":")}


def test_every_registry_module_is_in_a_layer_of_the_contracts() -> None:
    """A new module or domain of the registry must be placed in a layer (else it is unchecked)."""
    src = ROOT / "packages" / "opendata-registry" / "src" / "opendata_registry"
    top = {p.stem for p in src.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    wiring = _registry_contract("registry: wiring")
    assert top - {"__init__"} == {n.split(".")[1] for n in _names(wiring["layers"])}
    domains = {p.name for p in (src / "domain").iterdir() if (p / "__init__.py").exists()}
    assert domains == _names(_registry_contract("registry domains: the access")["layers"])
    inner = _registry_contract("registry domains: HTTP")
    assert {c.rsplit(".", 1)[1] for c in inner["containers"]} == domains  # type: ignore[union-attr]
    modules = {p.stem for d in domains for p in (src / "domain" / d).glob("*.py")}
    assert modules - {"__init__"} == _names(inner["layers"])


def test_one_moto_server_per_run() -> None:
    """moto's S3 server is started by one session fixture (tests/conftest.py), not per package."""
    starts = sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "tests").rglob("*.py")
        if p != Path(__file__) and "ThreadedMotoServer(" in p.read_text(encoding="utf-8")
    )
    assert starts == ["tests/conftest.py"]
