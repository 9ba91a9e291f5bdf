"""``od validate``: check opendata.yaml files and print every problem."""

from __future__ import annotations

import json
from pathlib import Path

import click

__all__ = ["validate"]


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
def validate(paths: tuple[Path, ...], as_json: bool) -> None:
    """Validate opendata.yaml files (default: ./opendata.yaml).

    A directory stands for the opendata.yaml inside it. Every problem is printed as
    file:line:col: field: message (fix). Exits 1 when any file has errors; warnings alone exit 0.
    """
    from opendata_core.metadata import check_metadata

    targets = [p / "opendata.yaml" if p.is_dir() else p for p in (paths or (Path("."),))]
    reports = [check_metadata(t) for t in targets]
    if as_json:
        out = [
            {
                "path": r.path,
                "ok": r.ok,
                "id": r.metadata.id if r.metadata else None,
                "problems": [
                    {
                        "severity": p.severity,
                        "line": p.line,
                        "column": p.column,
                        "field": p.field,
                        "message": p.message,
                        "hint": p.hint,
                    }
                    for p in r.problems
                ],
            }
            for r in reports
        ]
        click.echo(json.dumps(out, indent=2))
    else:
        for r in reports:
            for p in r.problems:
                colour = "red" if p.severity == "error" else "yellow"
                click.secho(str(p), fg=colour)
            if r.ok and r.metadata is not None:
                note = f" ({len(r.warnings)} warning(s))" if r.warnings else ""
                click.secho(f"ok: {r.path} ({r.metadata.id}){note}", fg="green")
    if any(not r.ok for r in reports):
        raise SystemExit(1)
