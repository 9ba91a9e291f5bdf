"""Debian's Chromium driven by Playwright, and axe-core from the npm registry."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE_VERSION = "4.10.3"
# Outside the repository and outside the tests' temporary home, so it is downloaded once per
# machine (read at import, before the autouse fixture points HOME at a temporary folder).
AXE_CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "opendata-tests"
    / f"axe-core-{AXE_VERSION}"
)


def axe_source() -> str:
    """axe.min.js, installed with npm into AXE_CACHE on first use."""
    script = AXE_CACHE / "node_modules" / "axe-core" / "axe.min.js"
    if not script.is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise AssertionError("npm is needed to install axe-core (apt-get install -y npm)")
        AXE_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(AXE_CACHE),
                f"axe-core@{AXE_VERSION}",
                "--no-audit",
                "--no-fund",
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return script.read_text()


def axe_serious(page: Any, source: str) -> list[dict[str, Any]]:
    """Run axe-core in ``page``; the serious and critical violations (id, impact, targets)."""
    # Evaluated through the DevTools protocol, so the page's CSP (no inline scripts) still holds.
    page.evaluate(source)
    result = page.evaluate("async () => await axe.run(document)")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "targets": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
