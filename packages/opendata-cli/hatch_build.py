"""Build hook: put the repository's example producers into the package (``od demo`` runs them).

``examples/`` at the top of the repository is the one copy in git. A wheel built from the
repository gets it as ``opendata_cli/examples/``; an sdist as ``src/opendata_cli/examples/``, so
that a wheel built from the sdist (where ``../../examples`` does not exist) finds it in the
package like any other file. An editable install needs nothing: ``od demo`` finds the checkout's
``examples/`` itself. ``tests/e2e/test_wheels.py`` checks the wheel's copy file by file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SKIP = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}


class ExamplesHook(BuildHookInterface):
    """Force-include ``../../examples`` into wheels and sdists built from the repository."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Add every file of ``../../examples`` (caches left out) to ``force_include``."""
        if self.target_name == "wheel" and version == "editable":
            return
        root = Path(self.root)
        if (root / "src" / "opendata_cli" / "examples").is_dir():
            return  # building from the sdist: the files are in the package already
        examples = root.parent.parent / "examples"
        if not examples.is_dir():
            raise FileNotFoundError(
                f"{examples} not found: build opendata-cli from the repository or its sdist"
            )
        where = "opendata_cli" if self.target_name == "wheel" else "src/opendata_cli"
        for path in sorted(examples.rglob("*")):
            relative = path.relative_to(examples)
            if path.is_file() and not SKIP.intersection(relative.parts) and path.suffix != ".pyc":
                build_data["force_include"][str(path)] = f"{where}/examples/{relative.as_posix()}"
