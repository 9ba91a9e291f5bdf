"""The registry's Dockerfile: linted by hadolint, and its exact CMD and HEALTHCHECK run here.

No docker daemon runs on these machines, so the image is not built: the test parses the
Dockerfile, starts the CMD as a subprocess with the workspace's environment (the same programs the
image installs), the image's ENV, a free port on 127.0.0.1 and a temporary OPENDATA_HOME, then
asks /readyz and runs the HEALTHCHECK command against it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._processes import listening_port, stop

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "packages" / "opendata-registry" / "Dockerfile"


def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    """The instructions of the last stage (the image that runs)."""
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, args in final_stage():
        if word == "ENV":
            for item in shlex.split(args):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def exec_form(word: str) -> list[str]:
    """The JSON (exec) form of ``CMD`` or of ``HEALTHCHECK … CMD``."""
    (args,) = [a for w, a in final_stage() if w == word]
    if word == "HEALTHCHECK":
        args = args[args.index("CMD ") + 4 :]
    command = json.loads(args)
    assert isinstance(command, list), f"{word} must use the exec form"
    return [str(part) for part in command]


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    result = subprocess.run(
        [hadolint, "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_is_slim_non_root_and_built_with_uv() -> None:
    steps = final_stage()
    (base,) = [a for w, a in steps if w == "FROM"]
    assert "slim" in base or base.startswith("${PYTHON_IMAGE}")
    assert "slim" in next(a for w, a in instructions() if w == "ARG" and "PYTHON_IMAGE" in a)
    (user,) = [a for w, a in steps if w == "USER"]
    assert user.split(":")[0] not in ("0", "root")
    assert any(w == "HEALTHCHECK" for w, _ in steps)
    build = " ".join(a for w, a in instructions() if w == "RUN")
    assert "uv build --package opendata-registry" in build
    assert "uv build --package opendata-core" in build
    assert not any("uv" in a.split() for w, a in steps if w == "RUN")  # no uv in the runtime


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], subprocess.Popen[bytes]]]:
    """The image's CMD running on a loopback port it picks; yields its base URL and environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDATA_")}
    env.update({k: v for k, v in image_env().items() if k != "PATH"})
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "OPENDATA_HOME": str(tmp_path / "data"),
            "GRANIAN_HOST": "127.0.0.1",
            "GRANIAN_PORT": "0",  # the port the server binds is read back: no free-port race
        }
    )
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        exec_form("CMD"), env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        port = listening_port(proc, "the image's command", log=tmp_path / "server.log")
        env["GRANIAN_PORT"] = str(port)  # where the HEALTHCHECK looks, as in the image
        yield f"http://127.0.0.1:{port}", env, proc
    finally:
        stop(proc)
        log.close()


def test_the_image_command_serves_readyz_and_passes_its_healthcheck(
    served: tuple[str, dict[str, str], subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    url, env, proc = served
    deadline = time.monotonic() + 120  # a loaded CI machine starts slowly
    status = None
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            status = httpx.get(f"{url}/readyz", timeout=2).status_code
        except httpx.TransportError:
            status = None
        if status == 200:
            break
        time.sleep(0.25)
    log = (tmp_path / "server.log").read_text()
    assert status == 200, f"/readyz never answered 200 (last: {status}); server log:\n{log}"
    check = subprocess.run(exec_form("HEALTHCHECK"), env=env, capture_output=True, check=False)
    assert check.returncode == 0, check.stderr.decode()
    assert (tmp_path / "data").is_dir()  # state went to OPENDATA_HOME, not the working directory
