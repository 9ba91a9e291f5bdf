"""``od validate``: check opendata.yaml files and print every finding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from opendata_cli._exit import CommandFailed

if TYPE_CHECKING:
    from opendata_core import Finding

__all__ = ["check_main_py", "validate"]


def check_main_py(path: Path) -> list[Finding]:
    """Check, without running it, that ``main.py`` exists, parses and defines ``main()``.

    ``main()`` must take no required arguments (``od run`` calls it without any).
    """
    import ast

    from opendata_cli._contract import MAIN_ARGUMENTS_HINT, main_arguments_problem, signature_of
    from opendata_core import Finding

    display = str(path)
    if not path.is_file():
        return [
            Finding(
                path=display,
                line=None,
                column=None,
                field="",
                message="file not found: `od run` calls main() in main.py beside opendata.yaml",
                hint="create it with a main() that returns the data (`od init` writes an example)",
            )
        ]
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=display)
    except SyntaxError as exc:
        return [
            Finding(
                path=display,
                line=exc.lineno,
                column=exc.offset,
                field="",
                message=f"syntax error: {exc.msg}",
                hint="fix the Python syntax",
            )
        ]
    except (OSError, UnicodeDecodeError) as exc:
        return [
            Finding(path=display, line=None, column=None, field="", message=f"cannot read: {exc}")
        ]
    mains = [
        n
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == "main"
    ]
    if not mains:
        return [
            Finding(
                path=display,
                line=None,
                column=None,
                field="main",
                message="main.py does not define main()",
                hint="add `def main():` that downloads the data and returns a DataFrame",
            )
        ]
    fn = mains[-1]
    problem = main_arguments_problem(signature_of(fn))
    if problem is not None:
        return [
            Finding(
                path=display,
                line=fn.lineno,
                column=fn.col_offset + 1,
                field="main",
                message=problem,
                hint=MAIN_ARGUMENTS_HINT,
            )
        ]
    return []


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def validate(paths: tuple[Path, ...], as_json: bool) -> None:
    """Validate opendata.yaml files (default: ./opendata.yaml) and the main.py beside them.

    A directory stands for the opendata.yaml inside it. main.py is checked without running it:
    it must exist, parse and define main() with no required arguments. The example texts of
    `od init` (description, source provider, the 'me' namespace) are warnings until replaced,
    and errors in GitHub Actions (GITHUB_ACTIONS=true), where a run would publish them.
    Every finding is printed as file:line:col: field: message (fix). Exits 1 when any file has
    errors; warnings alone exit 0.
    """
    from opendata_cli._placeholders import check_placeholders
    from opendata_core.metadata import check_metadata

    targets = [p / "opendata.yaml" if p.is_dir() else p for p in (paths or (Path("."),))]
    reports = [check_metadata(t) for t in targets]
    for target, report in zip(targets, reports, strict=True):
        if report.metadata is not None:
            for finding in check_placeholders(target, report.metadata):
                (report.errors if finding.severity == "error" else report.warnings).append(finding)
        if target.is_file():  # a missing opendata.yaml is the one finding worth saying
            report.errors.extend(check_main_py(target.parent / "main.py"))
    if as_json:
        out = []
        for r in reports:
            findings = [
                {
                    "severity": f.severity,
                    "line": f.line,
                    "column": f.column,
                    "field": f.field,
                    "message": f.message,
                    "hint": f.hint,
                }
                for f in r.findings
            ]
            id_ = r.metadata.id if r.metadata else None
            # "problems": the key before the Problem -> Finding rename; drop it next release.
            out.append(
                {"path": r.path, "ok": r.ok, "id": id_, "findings": findings, "problems": findings}
            )
        click.echo(json.dumps(out, indent=2))
    else:
        for r in reports:
            for f in r.findings:
                colour = "red" if f.severity == "error" else "yellow"
                click.secho(str(f), fg=colour)
            if r.ok and r.metadata is not None:
                note = f" ({len(r.warnings)} warning(s))" if r.warnings else ""
                click.secho(f"ok: {r.path} ({r.metadata.id}){note}", fg="green")
    if any(not r.ok for r in reports):
        raise CommandFailed  # the findings are printed above
