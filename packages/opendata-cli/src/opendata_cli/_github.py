"""GitHub Actions: the run's environment (provenance, run id), annotations and the job summary."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    pass

from opendata_cli._outcome import RunOutcome

_RUN_ID_RE: Final = re.compile(r"[a-z0-9]{1,32}")


@dataclass(frozen=True)
class _CI:
    github_actions: bool
    sha: str | None
    run_url: str | None
    run_id: str | None
    step_summary: str | None


def _ci() -> _CI:
    env = os.environ
    server, repository, run = (
        env.get("GITHUB_SERVER_URL"),
        env.get("GITHUB_REPOSITORY"),
        env.get("GITHUB_RUN_ID"),
    )
    run_url = (
        f"{server.rstrip('/')}/{repository}/actions/runs/{run}"
        if server and repository and run
        else None
    )
    run_id = None
    if run:
        attempt = env.get("GITHUB_RUN_ATTEMPT", "1")
        run_id = run if attempt in ("", "1") else f"{run}a{attempt}"
        if not _RUN_ID_RE.fullmatch(run_id):
            run_id = None
    return _CI(
        github_actions=env.get("GITHUB_ACTIONS") == "true",
        sha=env.get("GITHUB_SHA") or None,
        run_url=run_url,
        run_id=run_id,
        step_summary=env.get("GITHUB_STEP_SUMMARY") or None,
    )


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_report(outcome: RunOutcome, echo: Callable[[str], None]) -> None:
    """In GitHub Actions: annotations through ``echo`` and a Markdown job summary.

    Does nothing outside GitHub Actions (``GITHUB_ACTIONS`` is not ``true``).
    """
    ci = _ci()
    if not ci.github_actions:
        return
    name = outcome.dataset_id or str(outcome.folder)
    for w in outcome.warnings:
        echo(f"::warning title={_escape_property('od run: ' + name)}::{_escape_data(w)}")
    if outcome.ok:
        title = f"{'Checked' if outcome.dry_run else 'Published'} {name}"
        body = f"{outcome.rows or 0:,} rows" + (f", {outcome.coverage}" if outcome.coverage else "")
        echo(f"::notice title={_escape_property(title)}::{_escape_data(body)}")
    else:
        title = f"od run failed ({outcome.error_class}): {name}"
        body = outcome.message or "failed"
        if outcome.hint:
            body += f"\n{outcome.hint}"
        echo(f"::error title={_escape_property(title)}::{_escape_data(body)}")
    if ci.step_summary:
        try:
            with open(ci.step_summary, "a", encoding="utf-8") as fh:
                fh.write(step_summary(outcome))
        except OSError as exc:
            echo(f"::warning::could not write the job summary: {_escape_data(str(exc))}")


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def step_summary(outcome: RunOutcome) -> str:
    """The Markdown block appended to ``$GITHUB_STEP_SUMMARY``."""
    name = outcome.dataset_id or str(outcome.folder)
    out = io.StringIO()
    if outcome.ok:
        verb = "Dry run of" if outcome.dry_run else "Published"
        out.write(f"### ✅ {verb} `{name}`\n\n| | |\n|---|---|\n")
        rows: list[tuple[str, str]] = [("rows", f"{outcome.rows or 0:,}")]
        if outcome.stats is not None:
            rows.append(("bytes", f"{outcome.stats.bytes:,}"))
        rows.append(("coverage", outcome.coverage or "—"))
        if outcome.schema_hash:
            rows.append(("schema hash", f"`{outcome.schema_hash[:16]}`"))
        rows.append(("schema changed", "**yes**" if outcome.schema_changed else "no"))
        if outcome.result is not None:
            rows.append(("shards written", str(outcome.result.shards_written)))
            rows.append(("shards reused", str(outcome.result.shards_reused)))
            rows.append(("publish id", f"`{outcome.result.publish_id}`"))
        if outcome.main_seconds is not None:
            rows.append(("main() took", f"{outcome.main_seconds:.1f} s"))
        for k, v in rows:
            out.write(f"| {k} | {_md(v)} |\n")
    else:
        out.write(f"### ❌ `{name}`: failed ({outcome.error_class})\n\n")
        out.write(f"{_md(outcome.message or '')}\n\n")
        if outcome.hint:
            out.write(f"*{_md(outcome.hint)}*\n\n")
        out.write("Nothing was published; the last version stays as it was.\n")
    for w in outcome.warnings:
        out.write(f"\n> ⚠️ {_md(w)}\n")
    out.write("\n")
    return out.getvalue()
