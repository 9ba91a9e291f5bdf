"""``pip install opendata-cli`` → data: the install, then ``od demo --no-serve`` (issue 23 §2).

One command (PyPI for the third-party dependencies; everything else on 127.0.0.1)::

    uv run python benchmarks/bench_install.py              # pip and uv, cold caches (~2 min)
    uv run python benchmarks/bench_install.py --installers uv --repeats 3

Builds the wheels of opendata-core, -client and -cli, then for each installer: a fresh virtual
environment, ``install opendata-cli`` from those wheels with no package cache (downloads
included), and in an empty folder with an empty ``OPENDATA_HOME``: ``od demo --no-serve`` (the
first run publishes the five examples the wheel carries; the next re-uses every shard) and a
first ``od.load`` in a new process. The baseline in the same run is ``od demo --no-serve`` from
this workspace's own environment. Target: the first ``od demo --no-serve`` after install takes at
most 15 s; exits 1 when it does not. docs/benchmarks.md keeps the results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO_TARGET_S = 15.0
LOAD = "import opendata as od; print(len(od.load('ecb/euro-fx-reference-rates')))"


CPU: dict[str, float] = {}
"""CPU seconds (user + system) of the last :func:`run` of each command name."""


def run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> float:
    """Wall seconds ``command`` took (its CPU seconds go to :data:`CPU`); fails loudly."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[Path(command[0]).name] = (after.ru_utime - before.ru_utime) + (
        after.ru_stime - before.ru_stime
    )
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stdout}\n{proc.stderr}")
    return took


def build(dist: Path) -> None:
    for package in ("opendata-core", "opendata-client", "opendata-cli"):
        run(["uv", "build", "--package", package, "--wheel", "--out-dir", str(dist)], cwd=REPO)


def install(installer: str, venv: Path, dist: Path) -> float:
    """A fresh venv, then ``install opendata-cli`` from ``dist`` (+ PyPI), no cache: seconds."""
    wheels = [
        str(next(dist.glob(f"{name}-*.whl"))) for name in ("opendata_core", "opendata_client")
    ]
    if installer == "pip":
        run([sys.executable, "-m", "venv", str(venv)], cwd=venv.parent)
        command = [str(venv / "bin" / "pip"), "install", "--no-cache-dir", "--quiet"]
    else:
        run(["uv", "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=venv.parent)
        command = [
            "uv",
            "pip",
            "install",
            "--no-cache",
            "--quiet",
            "--python",
            str(venv / "bin/python"),
        ]
    # The workspace's own wheels stand in for PyPI's opendata-* (not published from here).
    command += ["--find-links", str(dist), *wheels, "opendata-cli"]
    return run(command, cwd=venv.parent)


def demo_and_load(venv: Path, scratch: Path) -> dict[str, float]:
    """In an empty folder and home: the first and a second ``od demo --no-serve``, one load."""
    empty, home = scratch / "empty", scratch / "home"
    empty.mkdir(parents=True)
    env = {**os.environ, "OPENDATA_HOME": str(home), "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    # As on a user's machine: Python keeps the bytecode it compiles (CI sets this variable, and
    # then every process compiles pandas anew: seconds).
    for name in ("VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    first = run([str(venv / "bin" / "od"), "demo", "--no-serve"], cwd=empty, env=env)
    first_cpu = CPU["od"]
    again = run([str(venv / "bin" / "od"), "demo", "--no-serve"], cwd=empty, env=env)
    load = run([str(venv / "bin" / "python"), "-c", LOAD], cwd=empty, env=env)
    if any(empty.iterdir()):
        raise SystemExit(f"od demo wrote into the current folder: {list(empty.iterdir())}")
    return {
        "demo_first_s": first,
        "demo_first_cpu_s": first_cpu,
        "demo_again_s": again,
        "demo_again_cpu_s": CPU["od"],
        "first_load_s": load,
    }


def site_packages_mb(venv: Path) -> float:
    (site,) = venv.glob("lib/python*/site-packages")
    total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    return total / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--installers", default="uv,pip", help="comma-separated: uv, pip")
    parser.add_argument("--repeats", type=int, default=1, help="fresh installs per installer")
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks/.data/install.json")
    args = parser.parse_args()
    if shutil.which("uv") is None:
        raise SystemExit("uv is not on PATH (python3 -m pip install uv)")

    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}, Python {platform.python_version()}"
    )
    results: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="od-bench-install-") as tmp:
        work = Path(tmp)
        build(work / "dist")
        baseline = demo_and_load(Path(sys.executable).parent.parent, work / "baseline")
        print(
            f"baseline (this workspace's environment): od demo --no-serve "
            f"{baseline['demo_first_s']:.1f} s (CPU {baseline['demo_first_cpu_s']:.1f} s), "
            f"again {baseline['demo_again_s']:.1f} s"
        )
        for installer in args.installers.split(","):
            for i in range(args.repeats):
                scratch = work / f"{installer}-{i}"
                scratch.mkdir()
                venv = scratch / "venv"
                row = {"install_s": install(installer, venv, work / "dist")}
                row["site_packages_mb"] = site_packages_mb(venv)
                row |= demo_and_load(venv, scratch)
                results.setdefault(installer, []).append(row)
                ratio = row["demo_first_s"] / baseline["demo_first_s"]
                print(
                    f"{installer:>3} #{i + 1}: install {row['install_s']:.1f} s "
                    f"({row['site_packages_mb']:.0f} MB), od demo --no-serve "
                    f"{row['demo_first_s']:.1f} s (CPU {row['demo_first_cpu_s']:.1f} s; "
                    f"{ratio:.2f} x baseline), again {row['demo_again_s']:.1f} s, first od.load "
                    f"{row['first_load_s']:.1f} s"
                )
    worst = max(r["demo_first_s"] for rows in results.values() for r in rows)
    ok = worst <= DEMO_TARGET_S
    for installer, rows in results.items():
        total = statistics.median(
            r["install_s"] + r["demo_first_s"] + r["first_load_s"] for r in rows
        )
        print(f"{installer}: install + od demo + first load, median {total:.1f} s")
    print(
        f"target: od demo --no-serve after install ≤ {DEMO_TARGET_S:.0f} s: "
        f"{'PASS' if ok else 'FAIL'} (slowest {worst:.1f} s)"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"baseline": baseline, "results": results}, indent=2))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
