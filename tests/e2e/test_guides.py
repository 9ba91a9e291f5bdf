"""Every fenced shell and Python example of the guides runs, against the registry of `od demo`
(issue 23 §5).

The guides are README.md and docs/*-guide.md. Their ```bash, ```sh, ```console and ```python
blocks run in the order they are written, one session per document (a working folder that
``cd`` carries from block to block, and one Python namespace, like a notebook), over one
`od demo --no-serve` home served by the registry the way `od demo` serves it, started here on
port 0. The registry trusts a stand-in for GitHub's OIDC issuer
(tests/registry/publishing/issuer.py), and before the operator guide runs, a stand-in GitHub
Actions job of ``acme/gadgets`` has published it (`od init` + `od run` with
``ACTIONS_ID_TOKEN_REQUEST_URL``), so the guide's ``datasets policy`` example has a registered
dataset to act on.

How a block runs:

* Python: consumer examples (README, consumer guide) read through the registry
  (``OPENDATA_REGISTRY`` is set, as the consumer guide says to); the producer guide's read of
  what ``od run`` published stays on the local store, as that section says.
* Shell (``bash``/``sh``): the block as a bash script (``set -eo pipefail``). ``console``: each
  ``$ command`` on its own; it must fail when its shown output has an ``error`` line, succeed
  otherwise, and print every line shown after it (whitespace-trimmed; a shown line may be the
  start of a longer printed one, e.g. ``ok: …`` before a count of warnings).
* What a reader does that a test cannot, stood in for (each a shell function of the prelude):
  ``uv run CMD`` runs CMD from this test's environment (the workspace's); `od demo` (which
  serves until Ctrl-C) and ``opendata-registry serve`` are the fixture's registry, and the
  address the guides give it, ``http://127.0.0.1:8000``, is replaced by its real one;
  ``git clone https://github.com/OWNER/REPO`` makes an empty local repository with that remote.

Marks, an HTML comment on the line before the fence:

* ``<!-- not-tested: why -->``: cannot run here (GitHub, a real cloud, a docker daemon, an
  editor); counted by :func:`test_untested_examples_are_few_and_say_why`.
* ``<!-- xfail: why -->``: fails today for a known open reason (the issue and section); a strict
  xfail, so the mark must go when the reason does.
* ``<!-- local-store: why -->``: a Python block that only makes sense on a local folder store
  (``file://`` paths); it runs on the demo's local store instead of through the registry.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

from tests._processes import ready_registry, stop
from tests.registry.publishing.issuer import AUDIENCE, Issuer, serve

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GUIDES = ["README.md", "docs/consumer-guide.md", "docs/producer-guide.md", "docs/operator-guide.md"]
SHELL = {"bash", "sh", "console"}
PYTHON = {"python"}
DOCS_REGISTRY = "http://127.0.0.1:8000"
"""The address the guides give a registry on your machine."""
REGISTRY_PYTHON = {"README.md", "docs/consumer-guide.md"}
"""Documents whose Python examples are a consumer's: they read through the registry."""
UNTESTED = 9
"""How many examples are marked not-tested (a new one is a decision: change this number)."""

_FENCE = re.compile(r"^```([\w-]*)\s*$")
_MARK = re.compile(r"^<!--\s*(not-tested|xfail|local-store):\s*(.+?)\s*-->\s*$")

PRELUDE = r"""
set -eo pipefail
uv() {
    if [ "$1" = run ]; then
        shift
        while [ "${1#--}" != "$1" ]; do shift; done
        "$@"
    else
        command uv "$@"
    fi
}
od() {
    if [ "$1" = demo ] && [[ " $* " != *" --no-serve "* ]]; then
        command od "$@" --no-serve
        echo "(od demo: the test's registry serves at $DEMO_REGISTRY)"
    else
        command od "$@"
    fi
}
opendata-registry() {
    if [ "$1" = serve ]; then
        echo "(opendata-registry serve: the test's registry serves at $DEMO_REGISTRY)"
    else
        command opendata-registry "$@"
    fi
}
git() {
    if [ "$1" = clone ] && [ "${2#https://github.com/}" != "$2" ]; then
        command git init -q "$(basename "$2" .git)"
        command git -C "$(basename "$2" .git)" remote add origin "$2"
    else
        command git "$@"
    fi
}
"""


@dataclass(frozen=True)
class Example:
    """One fenced block of a guide."""

    doc: str
    line: int
    lang: str
    code: str
    mark: tuple[str, str] | None = None
    """``(kind, reason)`` of an HTML comment mark on the line before the fence."""

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def examples(doc: str) -> list[Example]:
    """The shell and Python blocks of ``doc``, with their marks."""
    found: list[Example] = []
    lines = (REPO / doc).read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        lang = fence[1]
        if lang in SHELL | PYTHON:
            mark = _MARK.match(lines[i - 1]) if i else None
            found.append(
                Example(
                    doc,
                    i + 1,
                    lang,
                    "\n".join(lines[i + 1 : end]),
                    (mark[1], mark[2]) if mark else None,
                )
            )
        i = end + 1
    return found


ALL = [e for doc in GUIDES for e in examples(doc)]


# -- the demo registry ----------------------------------------------------------------------------


@dataclass
class Demo:
    """An `od demo --no-serve` home, served by the registry the way `od demo` starts it."""

    root: Path
    home: Path
    url: str
    env: dict[str, str]
    results: dict[str, BaseException | None] = field(default_factory=dict)
    """Each example's outcome by :attr:`Example.id` (``None``: it ran and passed)."""


def _clean_env(root: Path, home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENDATA_", "AWS_", "R2_", "GITHUB_", "ACTIONS_", "VIRTUAL_ENV"))
    }
    env.update(
        OPENDATA_HOME=str(home),
        HOME=str(root / "user"),
        XDG_CONFIG_HOME=str(root / "user" / ".config"),
        PATH=f"{BIN}:{env.get('PATH', '')}",
        GIT_CONFIG_GLOBAL=str(root / "user" / ".gitconfig"),
    )
    return env


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    root = tmp_path_factory.mktemp("guides")
    home = root / "opendata"
    env = _clean_env(root, home)
    published = subprocess.run(
        [str(BIN / "od"), "demo", "--no-serve"], cwd=root, env=env, capture_output=True, text=True
    )
    assert published.returncode == 0, published.stdout + published.stderr
    issuer = Issuer()
    server, _ = serve(issuer)
    registry_env = {
        **env,
        "OPENDATA_STORE": str(home / "store"),
        "OPENDATA_REGISTRY_OIDC_ISSUER": issuer.url,
        "OPENDATA_REGISTRY_OIDC_AUDIENCE": AUDIENCE,
        "OPENDATA_REGISTRY_SYNC_INTERVAL": "2",  # datasets the guides publish show up
    }
    log = root / "registry.log"
    with log.open("wb") as out:
        # The command `od demo` serves the registry with (opendata_cli._services), on port 0.
        proc = subprocess.Popen(
            [sys.executable, "-m", "opendata_registry.cli.main", "serve", "--port", "0"],
            env=registry_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        url = ready_registry(proc, log=log)
        yield Demo(root, home, url, {**env, "DEMO_REGISTRY": url, "ISSUER": issuer.url})
    finally:
        stop(proc)
        server.shutdown()
        server.server_close()


def _actions_publish(demo: Demo, session: Path) -> None:
    """A stand-in GitHub Actions job of acme/gadgets publishes it through the registry: its
    first publish registers (pins) the dataset, which the operator guide's policy example needs."""
    folder = session / "acme-gadgets"
    env = {**demo.env, "OPENDATA_REGISTRY": demo.url}
    repo = quote(json.dumps({"full_name": "acme/gadgets", "id": "4242", "owner_id": "77"}))
    env["ACTIONS_ID_TOKEN_REQUEST_URL"] = f"{demo.env['ISSUER']}/token?repo={repo}"
    env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "actions-request-token"
    for command in (["init", str(folder), "--id", "acme/gadgets", "--yes"], ["run", str(folder)]):
        done = subprocess.run(
            [str(BIN / "od"), *command], cwd=session, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr
    assert "published acme/gadgets" in done.stdout, done.stdout + done.stderr


# -- running a document ---------------------------------------------------------------------------


@dataclass
class Session:
    """One document's state: its working folder (carried by ``cd``) and its Python namespace."""

    folder: Path
    cwd_file: Path
    namespace: dict[str, object] = field(default_factory=dict)

    @property
    def cwd(self) -> Path:
        return Path(self.cwd_file.read_text().strip())


def _bash(demo: Demo, session: Session, script: str) -> subprocess.CompletedProcess[str]:
    script = script.replace(DOCS_REGISTRY, demo.url)
    full = f"{PRELUDE}\ncd {str(session.cwd)!r}\ntrap 'pwd > {session.cwd_file}' EXIT\n{script}\n"
    return subprocess.run(
        ["bash", "-c", full],
        cwd=session.cwd,
        env=demo.env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _commands(console: str) -> list[tuple[str, list[str]]]:
    """``(command, shown output lines)`` of a console transcript."""
    found: list[tuple[str, list[str]]] = []
    for line in console.splitlines():
        if line.startswith("$ "):
            found.append((line[2:], []))
        elif found and line.strip():
            found[-1][1].append(line.strip())
    return found


def _run_shell(demo: Demo, session: Session, example: Example) -> None:
    if example.lang != "console":
        done = _bash(demo, session, example.code)
        assert done.returncode == 0, f"exit {done.returncode}:\n{done.stdout}\n{done.stderr}"
        return
    for command, shown in _commands(example.code):
        done = _bash(demo, session, command)
        out = done.stdout + done.stderr
        printed = [line.strip() for line in out.splitlines()]
        errors = [line for line in shown if line.startswith("error")]
        if errors:
            assert done.returncode != 0, f"$ {command} should fail:\n{out}"
        else:
            assert done.returncode == 0, f"$ {command}: exit {done.returncode}\n{out}"
        missing = [line for line in shown if not any(p.startswith(line) for p in printed)]
        assert not missing, f"$ {command} did not print {missing}; it printed:\n{out}"


@contextlib.contextmanager
def _environ(values: dict[str, str], cwd: Path) -> Iterator[None]:
    saved, before = dict(os.environ), Path.cwd()
    os.environ.clear()
    os.environ.update(values)
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(before)
        os.environ.clear()
        os.environ.update(saved)


def _run_python(demo: Demo, session: Session, example: Example) -> None:
    env = dict(demo.env)
    through_registry = example.doc in REGISTRY_PYTHON and (
        example.mark is None or example.mark[0] != "local-store"
    )
    if through_registry:
        env["OPENDATA_REGISTRY"] = demo.url
    with _environ(env, session.cwd), contextlib.redirect_stdout(io.StringIO()):
        exec(compile(example.code, example.id, "exec"), session.namespace)


def run_document(demo: Demo, doc: str) -> None:
    """Run every example of ``doc`` in order, once, recording each outcome in ``demo``."""
    folder = demo.root / "sessions" / doc.replace("/", "-")
    folder.mkdir(parents=True)
    cwd_file = folder.parent / f"{folder.name}.cwd"
    cwd_file.write_text(str(folder))
    session = Session(folder, cwd_file)
    if doc == "docs/operator-guide.md":
        _actions_publish(demo, folder)
    for example in examples(doc):
        if example.mark is not None and example.mark[0] == "not-tested":
            continue
        try:
            if example.lang in PYTHON:
                _run_python(demo, session, example)
            else:
                _run_shell(demo, session, example)
        except Exception as exc:
            exc.add_note(f"{example.id} ({example.lang}):\n{example.code}")
            demo.results[example.id] = exc
        else:
            demo.results[example.id] = None


def _param(example: Example) -> object:
    marks: list[pytest.MarkDecorator] = []
    if example.mark is not None and example.mark[0] == "not-tested":
        marks.append(pytest.mark.skip(reason=f"not-tested: {example.mark[1]}"))
    if example.mark is not None and example.mark[0] == "xfail":
        marks.append(pytest.mark.xfail(strict=True, reason=example.mark[1]))
    return pytest.param(example, id=example.id, marks=marks)


@pytest.mark.parametrize("example", [_param(e) for e in ALL])
def test_guide_example_runs(demo: Demo, example: Example) -> None:
    if example.id not in demo.results:
        run_document(demo, example.doc)
    outcome = demo.results[example.id]
    if outcome is not None:
        raise AssertionError("".join(traceback.format_exception(outcome))) from outcome


def test_untested_examples_are_few_and_say_why() -> None:
    untested = [e for e in ALL if e.mark is not None and e.mark[0] == "not-tested"]
    listing = "\n".join(f"{e.id}: {e.mark[1]}" for e in untested if e.mark)
    assert len(untested) == UNTESTED, listing
    assert all(e.mark and len(e.mark[1]) > 15 for e in untested), listing
    assert len(ALL) - len(untested) >= 2 * len(untested), "most examples must run"


def test_marks_are_read() -> None:
    # An HTML comment before a shell or Python fence is a mark, spelled as one.
    for doc in GUIDES:
        lines = (REPO / doc).read_text(encoding="utf-8").splitlines()
        for i in range(1, len(lines)):
            fence = _FENCE.match(lines[i])
            if fence and fence[1] in SHELL | PYTHON and lines[i - 1].startswith("<!--"):
                assert _MARK.match(lines[i - 1]), f"{doc}:{i}: {lines[i - 1]}"
    kinds = {e.mark[0] for e in ALL if e.mark}
    assert "not-tested" in kinds and kinds <= {"not-tested", "xfail", "local-store"}


def test_every_registry_setting_is_in_the_operator_guide() -> None:
    # The settings module is the registry's only reader of its environment.
    import inspect

    from opendata_registry.infra import settings

    read = set(re.findall(r'"(OPENDATA_REGISTRY_[A-Z_]+)"', inspect.getsource(settings)))
    assert {"OPENDATA_REGISTRY_OIDC_ISSUER", "OPENDATA_REGISTRY_OIDC_AUDIENCE"} <= read
    guide = (REPO / "docs/operator-guide.md").read_text(encoding="utf-8")
    assert sorted(v for v in read if f"`{v}`" not in guide) == []
