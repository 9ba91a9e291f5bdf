"""One table from exception to message, hint and exit code (``opendata_cli._exit.describe``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from click.testing import CliRunner

from opendata_cli._exit import CommandFailed, ExitCode, Failure, describe
from opendata_cli.main import cli
from opendata_core.errors import DatasetNotFound, StoreUnavailable

SOURCES = Path(__file__).resolve().parents[2] / "packages" / "opendata-cli" / "src" / "opendata_cli"


def test_the_table() -> None:
    assert describe(CommandFailed("no", hint="try", code=ExitCode.STORE)) == Failure(
        "no", "try", ExitCode.STORE
    )
    assert describe(CommandFailed()) == Failure(None, None, ExitCode.FAILED)
    store = describe(StoreUnavailable("s3://b", "timed out"))
    assert store is not None and store.code is ExitCode.STORE
    assert describe(DatasetNotFound("ecb/fxx", ["ecb/fx"])) == Failure(
        "dataset 'ecb/fxx' not found; did you mean 'ecb/fx'?", None, ExitCode.FAILED
    )
    missing = DatasetNotFound("x/y")
    assert missing.hint
    # The shell form of the hint, where the error has one (`od search`, not od.search()).
    assert missing.shell_hint and missing.shell_hint != missing.hint
    assert describe(missing) == Failure(str(missing), missing.shell_hint, ExitCode.FAILED)
    assert describe(ValueError("bad date"), "get") == Failure(
        "bad date", "`od get --help` lists what each option accepts", ExitCode.FAILED
    )
    bug = describe(TypeError("x"))
    assert bug is not None and bug.code is ExitCode.FAILED and "bug in od" in (bug.hint or "")
    assert describe(FileNotFoundError("nope.csv")) == Failure("nope.csv", None, ExitCode.FAILED)
    # Not in the table: a bug, which keeps its traceback.
    assert describe(KeyError("x")) is None
    assert describe(RuntimeError("x")) is None


def _exit_calls(tree: ast.AST) -> list[ast.Call]:
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if (isinstance(func, ast.Name) and func.id == "SystemExit") or (
                isinstance(func, ast.Attribute) and func.attr == "exit"
            ):
                calls.append(node)
    return calls


@pytest.mark.parametrize("path", sorted(SOURCES.rglob("*.py")), ids=lambda p: p.name)
def test_no_literal_exit_code(path: Path) -> None:
    """Commands raise, or exit with a name from ``_exit.py``: never ``SystemExit(1)``."""
    tree = ast.parse(path.read_text())
    raised = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Raise)
        and n.exc is not None
        and "SystemExit" in ast.unparse(n.exc).split("(")[0]
    ]
    assert not raised, [ast.unparse(n) for n in raised]
    for call in _exit_calls(tree):
        literal = [a for a in call.args if isinstance(a, ast.Constant)]
        assert not literal, f"{path.name}:{call.lineno}: {ast.unparse(call)}"


def test_init_refusal_is_one_error_a_hint_and_exit_failed(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("print('mine')\n")
    result = CliRunner().invoke(cli, ["init", str(tmp_path), "--yes"])
    assert result.exit_code == ExitCode.FAILED
    assert result.output.splitlines() == [
        f"error: main.py already exists in {tmp_path}; nothing was written",
        "hint: use --force to overwrite them",
    ]


def test_validate_failure_exits_failed_even_with_debug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refusal is not a bug: OPENDATA_DEBUG=1 shows no traceback for it, the code stays 1."""
    (tmp_path / "opendata.yaml").write_text("id: acme/\n")
    monkeypatch.setenv("OPENDATA_DEBUG", "1")
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "opendata.yaml")])
    assert result.exit_code == ExitCode.FAILED, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "id: name is empty" in result.output
