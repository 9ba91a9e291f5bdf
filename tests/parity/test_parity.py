"""One behaviour, two transports: every read case gives the same answer on every transport.

Each case (tests/parity/cases.py) runs on the reference transport (``local``, a folder read
directly, unless the case skips it) and on the transport under test, each with a fresh ``OPENDATA_HOME`` (so an empty cache), and the
two outcomes must be equal: the same value, or the same error class with the same attributes
and message. The guards below fail when a public read function, a ``Client`` method or an ``od``
command, or one of their parameters, has no case: a new read feature needs a parity case (or a
stated reason in the lists below) before it can land.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest

import opendata as od
from opendata_cli.main import cli
from tests.parity.cases import CASES, Case, Context
from tests.parity.conftest import TRANSPORTS, World
from tests.parity.lifecycle import LIFECYCLE_CASES, life_world  # noqa: F401 (a fixture)

NOT_READS = {
    "push": "publishes (through the registry: tests/registry/publishing/test_client_publish.py)",
    "gc": "deletes from a bucket; a registry refuses it (the operator runs it on the bucket)",
    "record_run": "a producer's run record (tests/client/test_checks.py, tests/cli/test_run.py)",
    "health": "only a registry computes run health (None on a store): test_freshness.py",
    "settings": "configuration, read from the environment; no transport involved",
}
"""Public functions and ``Client`` methods that are not reads, and why they have no case."""
NOT_READ_COMMANDS = {
    "od validate": "checks a local opendata.yaml",
    "od init": "writes local files",
    "od deploy": "writes a local workflow",
    "od run": "a producer's run: publishes",
    "od push": "publishes",
    "od demo": "publishes the examples and serves a registry of its own",
    "od gc": "deletes from a bucket (a registry refuses it)",
    "od index rebuild": "rewrites a bucket's index.json (a registry refuses it)",
    "od index add": "writes a bucket's index.json (a registry refuses it)",
    "od registry add": "the old name of od index add, hidden",
}
UNCOVERED_OPTIONS = {
    "--store": "its environment variable OPENDATA_STORE selects every direct transport",
    "--help": "help text",
}
DEPRECATED = {
    "search.country": "the old name of geo (it warns and passes geo on)",
    "Client.search.country": "the old name of geo (it warns and passes geo on)",
    "od search.--country": "the old name of --geo, hidden (it warns and passes --geo on)",
}
"""Old names kept for one release: they lead to the same code as the new name, which has cases."""
_ERROR_ATTRIBUTES = (
    "close_matches",
    "column",
    "available",
    "coverage",
    "version",
    "oldest_kept",
    "reason",
    "withdrawn_at",
    "citation",
)


def _outcome(case: Case, ctx: Context) -> dict[str, Any]:
    try:
        return {"value": case.run(ctx)}
    except AssertionError:
        raise
    except Exception as exc:
        found: dict[str, Any] = {"error": type(exc)}
        for name in _ERROR_ATTRIBUTES:
            if hasattr(exc, name):
                found[name] = getattr(exc, name)
        if not isinstance(exc, od.DatasetNotFound):  # its message names the store searched
            found["message"] = re.sub(r" \(Request ID: [^)]*\)$", "", str(exc))
        return found


def _run_in(
    case: Case, world: World, transport: str, tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """``case`` on ``transport``, in its environment, with a home (and cache) of its own."""
    (tmp / "work").mkdir(parents=True)
    with monkeypatch.context() as env:
        for key in ("OPENDATA_STORE", "OPENDATA_REGISTRY", "AWS_ENDPOINT_URL"):
            env.delenv(key, raising=False)
        env.setenv("OPENDATA_HOME", str(tmp / "home"))
        for key, value in world.env(transport).items():
            env.setenv(key, value)
        return _outcome(case, Context(world, transport, tmp / "work"))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_same_answer_on_every_transport(
    case: Case, transport: str, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _compare(case, transport, world, tmp_path, monkeypatch)


@pytest.mark.parametrize("transport_name", TRANSPORTS)
@pytest.mark.parametrize("case", LIFECYCLE_CASES, ids=[c.id for c in LIFECYCLE_CASES])
def test_every_lifecycle_state_behaves_the_same_on_every_transport(
    case: Case,
    transport_name: str,
    life_world: World,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _compare(case, transport_name, life_world, tmp_path, monkeypatch)


def _compare(
    case: Case, transport: str, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if transport in case.skip:
        pytest.skip(case.skip[transport])
    reference = next(t for t in TRANSPORTS if t not in case.skip)
    got = _run_in(case, world, transport, tmp_path / transport, monkeypatch)
    if case.error is None:
        assert "error" not in got, got
    else:
        assert got.get("error") is case.error, got
    if transport == reference:
        return
    expected = _run_in(case, world, reference, tmp_path / reference, monkeypatch)
    assert got == expected


# -- the guards: nothing read-only without a case --------------------------------------------------


def _covered() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for case in [*CASES, *LIFECYCLE_CASES]:
        for name, params in case.covers.items():
            out.setdefault(name, set()).update(params)
    return out


def _reads() -> dict[str, inspect.Signature]:
    """Every public function of ``opendata`` and public method of ``Client``, by name."""
    found: dict[str, inspect.Signature] = {}
    for name in od.__all__:
        obj = getattr(od, name)
        if inspect.isfunction(obj):
            found[name] = inspect.signature(obj)
    for name, member in inspect.getmembers(od.Client, inspect.isfunction):
        if not name.startswith("_") and name not in found:
            found[f"Client.{name}"] = inspect.signature(member)
    return found


def test_every_public_read_and_its_parameters_have_a_parity_case() -> None:
    covered = _covered()
    missing = []
    for name, signature in _reads().items():
        if name.removeprefix("Client.") in NOT_READS:
            continue
        params = {
            p for p in signature.parameters if p != "self" and f"{name}.{p}" not in DEPRECATED
        }
        if name not in covered:
            missing.append(f"{name}: no case")
        elif params - covered[name]:
            missing.append(f"{name}: no case uses {sorted(params - covered[name])}")
    assert not missing, "add a parity case in tests/parity/cases.py for:\n" + "\n".join(missing)


def _commands(group: click.Group, prefix: str) -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            yield from _commands(command, path)
        else:
            yield path, command


def test_every_read_command_and_its_options_have_a_parity_case() -> None:
    covered = _covered()
    missing = []
    for path, command in _commands(cli, "od"):
        if path in NOT_READ_COMMANDS:
            continue
        if path not in covered:
            missing.append(f"{path}: no case")
            continue
        for param in command.params:
            names = (
                set(param.opts) if isinstance(param, click.Option) else {param.human_readable_name}
            )
            if names & set(UNCOVERED_OPTIONS) or names & covered[path]:
                continue
            if any(f"{path}.{n}" in DEPRECATED for n in names):
                continue
            missing.append(f"{path}: no case uses {'/'.join(sorted(names))}")
    assert not missing, "add a parity case in tests/parity/cases.py for:\n" + "\n".join(missing)


def test_the_exemptions_name_only_what_exists() -> None:
    """A renamed function or command must not keep a stale exemption."""
    names = {n.removeprefix("Client.") for n in _reads()}
    assert set(NOT_READS) <= names
    assert set(NOT_READ_COMMANDS) <= {path for path, _ in _commands(cli, "od")}
