"""The version of each package is written once: its pyproject.toml (via the installed metadata)."""

import importlib
import importlib.metadata
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [
    ("opendata-core", "opendata_core"),
    ("opendata-client", "opendata"),
    ("opendata-cli", "opendata_cli"),
    ("opendata-registry", "opendata_registry"),
    ("opendata-portal", "opendata_portal"),
]


@pytest.mark.parametrize(("dist", "module"), PACKAGES)
def test_version_comes_from_the_pyproject(dist: str, module: str) -> None:
    pyproject = tomllib.loads((ROOT / "packages" / dist / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == dist
    version = importlib.import_module(module).__version__
    assert version == importlib.metadata.version(dist) == pyproject["project"]["version"]


@pytest.mark.parametrize(("dist", "module"), PACKAGES)
def test_no_version_literal_in_the_package(dist: str, module: str) -> None:
    init = ROOT / "packages" / dist / "src" / module / "__init__.py"
    text = init.read_text()
    assert '__version__ = "' not in text
    assert f'version("{dist}")' in text or f'_metadata_version("{dist}")' in text


def test_od_version_prints_the_cli_version() -> None:
    from click.testing import CliRunner

    from opendata_cli.main import cli

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"od, version {importlib.metadata.version('opendata-cli')}\n"
