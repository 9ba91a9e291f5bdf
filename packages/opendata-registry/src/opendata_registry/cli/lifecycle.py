"""Operators' lifecycle decisions (spec §10): ``datasets verify``, ``deprecate`` and more.

The commands: ``datasets verify | deprecate | move | withdraw | restore | events`` and
``namespaces transfer``.

Each change goes through core's rules (``opendata_core.lifecycle``), is written to the bucket's
``lifecycle.json`` and to the database, and appends an audit event: who (``--by``, default
``$OPENDATA_OPERATOR`` or the login name), when, what and why (``--note``).
"""

from __future__ import annotations

import getpass
import json
import os
import re
from datetime import UTC, date, datetime
from typing import Any, Literal, cast

import click
import msgspec

from opendata_core.errors import OpenDataError
from opendata_core.ids import DatasetId
from opendata_core.lifecycle import (
    REASON_TERMS,
    TRUST_LEVELS,
    WITHDRAWAL_REASONS,
    Change,
    Deprecate,
    Lifecycle,
    Restore,
    TrustLevel,
    Verify,
    Withdraw,
    WithdrawalReason,
)
from opendata_registry.cli.publishing import datasets, namespaces
from opendata_registry.cli.runner import run_with_registry as _run

__all__ = ["datasets", "namespaces"]

_OWNER_ID = re.compile(r"[1-9][0-9]{0,19}")


def _operator() -> str:
    named = os.environ.get("OPENDATA_OPERATOR")
    if named:
        return named
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container's user with no passwd entry and no LOGNAME
        return "operator"


_by = click.option(
    "--by",
    default=_operator,
    show_default="$OPENDATA_OPERATOR, else the login name",
    help="Who decides (recorded in the audit event).",
)
_json = click.option("--json", "as_json", is_flag=True, help="Print the lifecycle.json written.")


def _review_by(
    ctx: click.Context | None, param: click.Parameter | None, text: str | None
) -> date | None:
    if text is None:
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a day; write it as YYYY-MM-DD (e.g. 2027-06-30)"
        ) from None
    if day < datetime.now(UTC).date():
        raise click.BadParameter(
            f"{day} has passed: the level would count as `none` at once; give a later day"
        )
    return day


def _dataset_id(ctx: click.Context | None, param: click.Parameter | None, text: str) -> str:
    try:
        return str(DatasetId.parse(text))
    except OpenDataError as exc:
        raise click.BadParameter(exc.message + (f" ({exc.hint})" if exc.hint else "")) from None


def _maybe_id(ctx: click.Context, param: click.Parameter, text: str | None) -> str | None:
    return None if text is None else _dataset_id(ctx, param, text)


def _change(dataset_id: str, change: Change, by: str, option: str) -> Lifecycle:
    from opendata_registry.domain.catalogue.lifecycle import LifecycleService

    async def work(registry: Any) -> Lifecycle:
        return await LifecycleService(registry).change(dataset_id, change, by=by)

    try:
        return _run(work)
    except ValueError as exc:
        if isinstance(exc, OpenDataError):
            raise
        raise click.BadParameter(str(exc), param_hint=option) from None


def _show(doc: Lifecycle, as_json: bool, line: str) -> None:
    if as_json:
        click.echo(json.dumps(msgspec.to_builtins(doc), indent=2))
        return
    click.echo(line)


@datasets.command("verify")
@click.argument("dataset_id", callback=_dataset_id)
@click.option(
    "--level",
    required=True,
    type=click.Choice(TRUST_LEVELS),
    help="The level granted (each includes the ones before it); `none` takes it away.",
)
@click.option("--note", required=True, help="What was checked, e.g. 'licence confirmed with …'.")
@click.option(
    "--review-by",
    callback=_review_by,
    help="The day the decision lapses (YYYY-MM-DD) unless renewed.",
)
@_by
@_json
def datasets_verify(
    dataset_id: str, level: str, note: str, review_by: date | None, by: str, as_json: bool
) -> None:
    """Set the trust level of a dataset (an operator's decision; spec §10.1)."""
    if not note.strip():
        raise click.BadParameter("the note is empty: say what was checked", param_hint="--note")
    change = Verify(level=cast(TrustLevel, level), note=note, review_by=review_by)
    doc = _change(dataset_id, change, by, "--note")
    until = f", review by {doc.trust.review_by}" if doc.trust.review_by else ""
    _show(doc, as_json, f"{dataset_id}: trust level {doc.trust.level}{until} (by {by})")


@datasets.command("deprecate")
@click.argument("dataset_id", callback=_dataset_id)
@click.option("--message", required=True, help="Why, and what to use instead.")
@click.option("--successor", callback=_maybe_id, help="The dataset to use instead (NS/NAME).")
@_by
@_json
def datasets_deprecate(
    dataset_id: str, message: str, successor: str | None, by: str, as_json: bool
) -> None:
    """Mark a dataset deprecated: still served, and every load warns with the message."""
    change = Deprecate(message=message, successor=successor)
    option = "--successor" if successor and successor == dataset_id else "--message"
    doc = _change(dataset_id, change, by, option)
    instead = f"; successor {doc.successor}" if doc.successor else ""
    _show(doc, as_json, f"{dataset_id}: deprecated{instead} (by {by})")


@datasets.command("move")
@click.argument("dataset_id", callback=_dataset_id)
@click.argument("new_id", callback=_dataset_id)
@click.option("--note", help="Why (recorded in the audit event).")
@_by
@_json
def datasets_move(dataset_id: str, new_id: str, note: str | None, by: str, as_json: bool) -> None:
    """Rename a dataset or move it to another namespace; the old id stays reserved.

    The bucket is copied to the new id (the documents rewritten), the old id keeps only its
    lifecycle.json (a pointer), and readers of the old id get the new one with a warning. A
    move that stopped half-way is finished by running the same command again.
    """
    from opendata_registry.domain.catalogue.lifecycle import LifecycleService

    async def work(registry: Any) -> tuple[Lifecycle, Lifecycle]:
        return await LifecycleService(registry).move(dataset_id, new_id, by=by, note=note)

    try:
        _, arrived = _run(work)
    except ValueError as exc:
        if isinstance(exc, OpenDataError):
            raise
        raise click.BadParameter(str(exc), param_hint="--note") from None
    _show(arrived, as_json, f"{dataset_id} moved to {new_id}; {dataset_id} stays reserved")


@datasets.command("withdraw")
@click.argument("dataset_id", callback=_dataset_id)
@click.option(
    "--reason",
    required=True,
    type=click.Choice(WITHDRAWAL_REASONS),
    help="; ".join(f"{t.value}: {t.meaning}" for t in REASON_TERMS.values()),
)
@click.option("--note", help="The operator's explanation, shown to readers.")
@_by
@_json
def datasets_withdraw(
    dataset_id: str, reason: str, note: str | None, by: str, as_json: bool
) -> None:
    """Stop serving a dataset's data; its description and citation stay (answers 410)."""
    change = Withdraw(reason=cast(WithdrawalReason, reason), note=note)
    doc = _change(dataset_id, change, by, "--note")
    _show(doc, as_json, f"{dataset_id}: withdrawn ({reason}); its data is no longer served")
    from opendata_registry.infra.settings import Settings

    if Settings.from_env().public_url is None:
        click.echo(
            "warning: OPENDATA_REGISTRY_PUBLIC_URL is not set, so the citation kept for readers "
            "names the bucket's copy of the last version, not the registry's public URL; set "
            "it wherever operators run these commands (operator guide, section 9)",
            err=True,
        )


@datasets.command("restore")
@click.argument("dataset_id", callback=_dataset_id)
@click.option("--note", help="Why (recorded in the audit event).")
@_by
@_json
def datasets_restore(dataset_id: str, note: str | None, by: str, as_json: bool) -> None:
    """Make a deprecated or withdrawn dataset active again."""
    doc = _change(dataset_id, Restore(note=note), by, "--note")
    _show(doc, as_json, f"{dataset_id}: active again (by {by})")


@datasets.command("events")
@click.argument("dataset_id", callback=_dataset_id)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def datasets_events(dataset_id: str, as_json: bool) -> None:
    """The audit trail of a dataset (or of a moved id), oldest first."""
    from opendata_registry.domain.catalogue.lifecycle import read_lifecycle
    from opendata_registry.domain.catalogue.services import CatalogueService

    async def work(registry: Any) -> Lifecycle | None:
        async with registry.session() as session:
            doc = await read_lifecycle(session, dataset_id)
            if doc is None:  # no lifecycle: a dataset never changed, or no such id
                await CatalogueService(session, registry.settings).events(dataset_id)
            return doc

    doc = _run(work)
    events = doc.events if doc is not None else []
    if as_json:
        click.echo(json.dumps(msgspec.to_builtins(events), indent=2))
        return
    if not events:
        click.echo(f"{dataset_id}: no lifecycle events (active, not verified)")
    for e in events:
        what = ", ".join(f"{k}={v}" for k, v in e.details.items())
        why = f" — {e.note}" if e.note else ""
        click.echo(f"{e.at:%Y-%m-%d %H:%M}  {e.by:<16} {e.action:<10} {what}{why}")


@namespaces.command("transfer")
@click.argument("namespace")
@click.option(
    "--to-owner",
    required=True,
    help="The new owner's GitHub owner id (the number: https://api.github.com/users/NAME).",
)
@click.option(
    "--datasets",
    "follow",
    required=True,
    type=click.Choice(["follow", "stay"]),
    help="follow: its datasets go to the new owner (their repository pins are lifted, the new "
    "owner's repository registers each at its next publish); stay: they stay pinned to their "
    "repositories.",
)
@click.option("--note", help="Why (recorded in the audit events).")
@_by
def namespaces_transfer(
    namespace: str, to_owner: str, follow: str, note: str | None, by: str
) -> None:
    """Give NAMESPACE to another GitHub owner, recorded on the namespace and each dataset."""
    from opendata_registry.domain.catalogue.lifecycle import LifecycleService

    try:
        ns = DatasetId.parse(f"{namespace}/x").namespace
    except OpenDataError as exc:
        raise click.BadParameter(exc.message, param_hint="NAMESPACE") from None
    if not _OWNER_ID.fullmatch(to_owner.strip()):
        raise click.BadParameter(
            f"{to_owner!r} is not a GitHub owner id: give the account's number (the `id` of "
            "https://api.github.com/users/NAME), which a re-created account cannot take",
            param_hint="--to-owner",
        )
    mode = cast(Literal["follow", "stay"], follow)

    async def work(registry: Any) -> list[str]:
        return await LifecycleService(registry).transfer(
            ns, to_owner.strip(), mode, by=by, note=note
        )

    ids = _run(work)
    click.echo(
        f"namespace {ns} transferred to GitHub owner id {to_owner.strip()}; "
        f"{len(ids)} dataset{'s' if len(ids) != 1 else ''} {follow}"
    )
