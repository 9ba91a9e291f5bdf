"""Every member builds a wheel with its typing marker and data.

Installing the core wheel into a clean venv needs its dependencies from the package index, which
tests must not reach; `scripts/check-wheels.sh` (run by `.ci/run`) does that part.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MEMBERS = {
    "opendata-core": "opendata_core",
    "opendata-client": "opendata",
    "opendata-cli": "opendata_cli",
    "opendata-registry": "opendata_registry",
    "opendata-portal": "opendata_portal",
}
UV = shutil.which("uv") or "uv"


def _uv(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    # --offline: the build backend and dependencies are in uv's cache after `uv sync`; tests
    # must not reach the network.
    env = {**os.environ, "UV_OFFLINE": "1", "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        [UV, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    built: dict[str, Path] = {}
    for member in MEMBERS:
        proc = _uv("build", "--package", member, "--wheel", "--out-dir", str(out))
        assert proc.returncode == 0, proc.stderr
        (wheel,) = out.glob(member.replace("-", "_") + "-*.whl")
        built[member] = wheel
    return built


@pytest.mark.parametrize(("member", "module"), MEMBERS.items())
def test_each_member_builds_a_wheel_with_py_typed(
    wheels: dict[str, Path], member: str, module: str
) -> None:
    names = zipfile.ZipFile(wheels[member]).namelist()
    assert f"{module}/__init__.py" in names
    assert f"{module}/py.typed" in names
    assert not any(n.startswith("tests/") for n in names)


def test_core_wheel_has_its_data(wheels: dict[str, Path]) -> None:
    names = zipfile.ZipFile(wheels["opendata-core"]).namelist()
    assert "opendata_core/data/spdx_licenses.json" in names
    assert "opendata_core/data/iso3166_1.json" in names


@pytest.fixture(scope="module")
def cli_wheel_from_sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The opendata-cli wheel as the release workflow builds it: the sdist, then its wheel."""
    out = tmp_path_factory.mktemp("release")
    proc = _uv("build", "--package", "opendata-cli", "--no-sources", "--out-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    (wheel,) = out.glob("opendata_cli-*.whl")
    return wheel


@pytest.mark.parametrize("built", ["from the tree", "from the sdist"])
def test_cli_wheel_ships_the_examples_as_they_are_in_the_repository(
    wheels: dict[str, Path], cli_wheel_from_sdist: Path, built: str
) -> None:
    """`od demo` after `pip install opendata-cli` runs the wheel's copy of examples/ (issue 23
    §2); examples/ is the one copy in git, put into the wheel (and the sdist) by
    packages/opendata-cli's build hook."""
    wheel = zipfile.ZipFile(
        wheels["opendata-cli"] if built == "from the tree" else cli_wheel_from_sdist
    )
    prefix = "opendata_cli/examples/"
    shipped = {
        n.removeprefix(prefix): wheel.read(n) for n in wheel.namelist() if n.startswith(prefix)
    }
    examples = REPO / "examples"
    expected = {
        p.relative_to(examples).as_posix(): p.read_bytes()
        for p in examples.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert {"ecb-euro-fx-rates/main.py", "ecb-euro-fx-rates/fixtures/routes.json"} <= set(expected)
    assert shipped.keys() == expected.keys()
    assert [n for n in expected if shipped[n] != expected[n]] == []
