"""Dataset lifecycle and trust: statuses, trust levels, and the one rule for changing them.

A dataset's **status** (``active``, ``deprecated``, ``moved``, ``withdrawn``) and **trust
level** (``none`` < ``verified-publisher`` < ``verified-source`` < ``audited``) live in its
``lifecycle.json`` (spec §10), so a store read without a registry behaves as one read through
it; a registry also keeps them, with their audit events, in its database. The meanings below are
the only text of their kind: the portal's badges, ``od info`` and the spec show these.

Every change goes through :func:`transition` (one table, :data:`ALLOWED`, says which change each
status allows) or, for a move, :func:`move`; each appends a :class:`LifecycleEvent` (who, when,
what, why). :func:`resolve` follows moves from an old id to the live one.

Example:
    >>> from datetime import UTC, datetime
    >>> now = datetime(2026, 12, 7, tzinfo=UTC)
    >>> doc = Lifecycle(dataset_id="ecb/fx")
    >>> doc = transition(doc, Verify(level="verified-source", note="licence checked"),
    ...                  by="alice", at=now)
    >>> doc.trust.level, doc.events[-1].action
    ('verified-source', 'verify')
    >>> old, new = move(doc, "ecb/fx-rates", by="alice", at=now)
    >>> old.status, old.moved_to, new.trust.level, new.previous_ids
    ('moved', 'ecb/fx-rates', 'verified-source', ['ecb/fx'])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final, Literal, TypeAlias, get_args

import msgspec

from opendata_core.documents import DatasetStatus, TrustLevel, _Document
from opendata_core.errors import (
    DatasetWithdrawn,
    FormatError,
    InvalidTransition,
    PermissionDenied,
    shorten,
)
from opendata_core.ids import DatasetId
from opendata_core.metadata import DatasetMetadata, Deprecation

__all__ = [
    "ACTIONS",
    "ALLOWED",
    "MAX_HOPS",
    "REASON_TERMS",
    "STATUSES",
    "STATUS_TERMS",
    "TRUST_LEVELS",
    "TRUST_TERMS",
    "WITHDRAWAL_REASONS",
    "Action",
    "Change",
    "DatasetStatus",
    "Declare",
    "Deprecate",
    "Lifecycle",
    "LifecycleEvent",
    "Resolution",
    "Restore",
    "Term",
    "Transfer",
    "Trust",
    "TrustLevel",
    "Verify",
    "Withdraw",
    "WithdrawalReason",
    "deprecation_message",
    "effective_lifecycle",
    "move",
    "moved_message",
    "refuse_publish",
    "resolve",
    "transition",
    "trust_at_least",
    "withdrawn_error",
]

WithdrawalReason: TypeAlias = Literal["legal", "licence", "privacy", "producer-request"]
"""Why a dataset was withdrawn."""
Action: TypeAlias = Literal[
    "verify", "deprecate", "move", "withdraw", "restore", "transfer", "declare"
]
"""What an event did: an operator's decision, or ``declare`` (the producer's ``deprecated``)."""

STATUSES: Final[tuple[DatasetStatus, ...]] = get_args(DatasetStatus)
TRUST_LEVELS: Final[tuple[TrustLevel, ...]] = get_args(TrustLevel)
"""Lowest first: each level includes what the ones before it mean."""
WITHDRAWAL_REASONS: Final[tuple[WithdrawalReason, ...]] = get_args(WithdrawalReason)
ACTIONS: Final[tuple[Action, ...]] = get_args(Action)
MAX_HOPS: Final = 32
"""The longest chain of moves :func:`resolve` follows (a longer one is a broken store)."""


@dataclass(frozen=True)
class Term:
    """A value's label and meaning, as every tool shows it (the portal's badge text)."""

    value: str
    label: str
    meaning: str


TRUST_TERMS: Final[Mapping[TrustLevel, Term]] = {
    "none": Term(
        "none",
        "Not verified",
        "No operator has checked this dataset yet; it is published as its producer describes it.",
    ),
    "verified-publisher": Term(
        "verified-publisher",
        "Verified publisher",
        "An operator checked that the namespace is the organisation it claims to be and pinned "
        "its GitHub owner id, so nobody else can publish under it.",
    ),
    "verified-source": Term(
        "verified-source",
        "Verified source",
        "Verified publisher, and an operator checked that the data comes from the stated "
        "source and that its licence allows republishing it.",
    ),
    "audited": Term(
        "audited",
        "Audited",
        "Verified source, and the dataset meets the quality standard: it is refreshed on "
        "schedule, its schema stays stable and its checks pass.",
    ),
}
"""What each trust level means (spec §10.1)."""

STATUS_TERMS: Final[Mapping[DatasetStatus, Term]] = {
    "active": Term("active", "Active", "Published and maintained."),
    "deprecated": Term(
        "deprecated",
        "Deprecated",
        "Still served, but no longer recommended; loading it warns with the reason and, when "
        "there is one, the dataset to use instead.",
    ),
    "moved": Term(
        "moved",
        "Moved",
        "Renamed or transferred to another namespace; the old id loads the new one with a "
        "warning and stays reserved, so no other dataset can take it.",
    ),
    "withdrawn": Term(
        "withdrawn",
        "Withdrawn",
        "Taken down: its data is no longer served; its description and the citation of its "
        "last version remain.",
    ),
}
"""What each status means (spec §10)."""

REASON_TERMS: Final[Mapping[WithdrawalReason, Term]] = {
    "legal": Term("legal", "Legal", "A legal obligation (a court order, a takedown notice)."),
    "licence": Term(
        "licence", "Licence", "The licence does not, or no longer, allow republishing the data."
    ),
    "privacy": Term("privacy", "Privacy", "The data exposes personal information."),
    "producer-request": Term(
        "producer-request", "Producer's request", "Its producer asked for it to be taken down."
    ),
}
"""What each reason of a withdrawal means."""


class Trust(msgspec.Struct, kw_only=True, frozen=True):
    """An operator's decision about how far a dataset is trusted (never the producer's)."""

    level: TrustLevel = "none"
    granted_by: str | None = None
    """The operator who decided."""
    granted_at: datetime | None = None
    note: str | None = None
    """What was checked, e.g. "licence confirmed with the ECB on 2026-11-30"."""
    review_by: date | None = None
    """The decision lapses after this day (the level counts as ``none``) until renewed."""

    def effective(self, today: date | None = None) -> TrustLevel:
        """The level on ``today`` (default: today, UTC): ``none`` once ``review_by`` passed.

        Example:
            >>> Trust(level="audited", review_by=date(2026, 1, 31)).effective(date(2026, 2, 1))
            'none'
        """
        today = today or datetime.now(UTC).date()
        if self.review_by is not None and today > self.review_by:
            return "none"
        return self.level


def trust_at_least(level: str, minimum: TrustLevel) -> bool:
    """Whether ``level`` is ``minimum`` or higher (unknown levels count as ``none``).

    Example:
        >>> trust_at_least("audited", "verified-publisher"), trust_at_least("none", "audited")
        (True, False)
    """
    rank: dict[str, int] = {name: i for i, name in enumerate(TRUST_LEVELS)}
    return rank.get(level, 0) >= rank[minimum]


class LifecycleEvent(msgspec.Struct, kw_only=True, frozen=True):
    """One change of a dataset's lifecycle: who, when, what and why (the audit trail)."""

    at: datetime
    by: str
    """The operator (``opendata-registry … --by``), or ``producer`` for ``declare``."""
    action: Action
    note: str | None = None
    """Why, in the words of whoever decided."""
    details: dict[str, str] = {}
    """What changed: ``level``, ``successor``, ``to``, ``from``, ``reason``, ``owner``…"""


class Lifecycle(_Document, kw_only=True):
    """``lifecycle.json``: a dataset's status, trust and audit trail (spec §10).

    A dataset without one is ``active``, not verified, with no history (unless its
    ``opendata.yaml`` declares ``deprecated``: :func:`effective_lifecycle`).
    """

    dataset_id: str
    status: DatasetStatus = "active"
    message: str | None = None
    """``deprecated``: why, and what to use instead; ``withdrawn``: the operator's note."""
    successor: str | None = None
    """``deprecated``: the id of the dataset to use instead, if any."""
    moved_to: str | None = None
    """``moved``: the id the dataset moved to (which may have moved on: :func:`resolve`)."""
    reason: WithdrawalReason | None = None
    """``withdrawn``: why."""
    since: datetime | None = None
    """When the status took effect."""
    status_by: Literal["operator", "producer"] | None = None
    """Who set the status: an operator's decision stands over the producer's ``deprecated``."""
    trust: Trust = Trust()
    previous_ids: list[str] = msgspec.field(default_factory=list)
    """Ids this dataset had before (each a reserved tombstone that resolves here)."""
    citation: str | None = None
    """``withdrawn``: the citation of the last version."""
    last_publish_id: str | None = None
    """``withdrawn``: the version that was live when it was withdrawn."""
    events: list[LifecycleEvent] = msgspec.field(default_factory=list)
    """The audit trail, oldest first."""


# -- the changes -------------------------------------------------------------------------------


class Verify(msgspec.Struct, kw_only=True, frozen=True):
    """Set the trust level (``none`` takes it away)."""

    level: TrustLevel
    note: str | None = None
    review_by: date | None = None


class Deprecate(msgspec.Struct, kw_only=True, frozen=True):
    """Mark the dataset deprecated (again, to change the message or successor)."""

    message: str
    successor: str | None = None


class Withdraw(msgspec.Struct, kw_only=True, frozen=True):
    """Stop serving the data; keep the metadata and the citation of the last version."""

    reason: WithdrawalReason
    note: str | None = None
    citation: str | None = None
    last_publish_id: str | None = None


class Restore(msgspec.Struct, kw_only=True, frozen=True):
    """Back to ``active`` from ``deprecated`` or ``withdrawn``."""

    note: str | None = None


class Transfer(msgspec.Struct, kw_only=True, frozen=True):
    """The namespace changed owner: recorded on each of its datasets (the status is unchanged)."""

    to_owner: str
    datasets: Literal["follow", "stay"]
    """``follow``: the dataset goes with the namespace to its new owner; ``stay``: it remains
    published by the repository it is pinned to."""
    note: str | None = None


class Declare(msgspec.Struct, kw_only=True, frozen=True):
    """The producer's ``deprecated`` in ``opendata.yaml`` at a publish (``None``: not any more)."""

    deprecation: Deprecation | None


Change: TypeAlias = Verify | Deprecate | Withdraw | Restore | Transfer | Declare
"""Every change but a move (:func:`move`)."""

_ACTION_OF: Final[dict[type[Change], Action]] = {
    Verify: "verify",
    Deprecate: "deprecate",
    Withdraw: "withdraw",
    Restore: "restore",
    Transfer: "transfer",
    Declare: "declare",
}

ALLOWED: Final[Mapping[DatasetStatus, frozenset[Action]]] = {
    "active": frozenset({"verify", "deprecate", "move", "withdraw", "transfer", "declare"}),
    "deprecated": frozenset(
        {"verify", "deprecate", "move", "withdraw", "restore", "transfer", "declare"}
    ),
    # A moved id is a pointer: every change is made to the dataset it resolves to.
    "moved": frozenset(),
    "withdrawn": frozenset({"restore", "transfer"}),
}
"""The changes each status allows (spec §10.2); :func:`transition` enforces it."""


def _check(doc: Lifecycle, action: Action) -> None:
    if action in ALLOWED[doc.status]:
        return
    ds = doc.dataset_id
    if doc.status == "moved":
        raise InvalidTransition(
            ds,
            f"{ds} moved to {doc.moved_to}: it is a reserved pointer, so it cannot be {action}d "
            "itself",
            status=doc.status,
            action=action,
            hint=f"apply the change to {doc.moved_to}",
        )
    if doc.status == "withdrawn":
        raise InvalidTransition(
            ds,
            f"{ds} is withdrawn ({doc.reason}); it must be restored before it can be "
            f"{'moved' if action == 'move' else action + 'd'}",
            status=doc.status,
            action=action,
            hint=f"restore it first: opendata-registry datasets restore {ds}",
        )
    raise InvalidTransition(  # restore of an active dataset
        ds,
        f"{ds} is {doc.status}: there is nothing to {action}",
        status=doc.status,
        action=action,
    )


def _text(value: str | None, field: str, limit: int = 2000) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > limit:
        raise ValueError(f"{field} is {len(value)} characters long; the limit is {limit}")
    return value


def transition(doc: Lifecycle, change: Change, *, by: str, at: datetime) -> Lifecycle:
    """``doc`` after ``change``, with its event appended; ``doc`` itself is left unchanged.

    A :class:`Declare` that changes nothing (or that an operator's status overrides) returns
    ``doc`` as it is, with no event.

    Raises:
        InvalidTransition: :data:`ALLOWED` forbids it for ``doc.status`` (the message says why
            and the hint what to do), or a :class:`Restore` of a dataset already active.
        ValueError: a bad argument (a successor that is the dataset itself, a note too long).
    """
    action = _ACTION_OF[type(change)]
    if isinstance(change, Declare):
        return _declare(doc, change.deprecation, at)
    _check(doc, action)
    note = _text(getattr(change, "note", None), "the note")
    event = LifecycleEvent(at=at, by=by, action=action, note=note)
    if isinstance(change, Verify):
        trust = Trust(
            level=change.level, granted_by=by, granted_at=at, note=note, review_by=change.review_by
        )
        details: dict[str, str] = {"level": change.level}
        if change.review_by:
            details["review_by"] = change.review_by.isoformat()
        return _with(doc, event, details, trust=trust)
    if isinstance(change, Deprecate):
        message = _text(change.message, "the message")
        if message is None:
            raise ValueError("a deprecation needs a message: why, and what to use instead")
        successor = str(DatasetId.parse(change.successor)) if change.successor else None
        if successor == doc.dataset_id:
            raise ValueError(f"the successor {successor} is the dataset itself")
        event = LifecycleEvent(at=at, by=by, action=action, note=message)
        details = {"successor": successor} if successor else {}
        return _with(
            doc,
            event,
            details,
            status="deprecated",
            message=message,
            successor=successor,
            since=at,
            status_by="operator",
        )
    if isinstance(change, Withdraw):
        return _with(
            doc,
            event,
            {"reason": change.reason},
            status="withdrawn",
            message=note,
            successor=None,
            reason=change.reason,
            since=at,
            status_by="operator",
            citation=change.citation,
            last_publish_id=change.last_publish_id,
        )
    if isinstance(change, Restore):
        # Undoing the producer's own deprecation is an override that stands over its
        # opendata.yaml; restoring an operator's decision gives the status back to the producer.
        pinned = doc.status == "deprecated" and doc.status_by == "producer"
        return _with(
            doc,
            event,
            {"from": doc.status},
            status="active",
            message=None,
            successor=None,
            reason=None,
            since=at,
            status_by="operator" if pinned else None,
            citation=None,
            last_publish_id=None,
        )
    assert isinstance(change, Transfer)
    return _with(doc, event, {"owner": change.to_owner, "datasets": change.datasets})


def _with(
    doc: Lifecycle, event: LifecycleEvent, details: dict[str, str], **changes: object
) -> Lifecycle:
    event = msgspec.structs.replace(event, details=details)
    return msgspec.structs.replace(doc, events=[*doc.events, event], **changes)


def _declare(doc: Lifecycle, deprecation: Deprecation | None, at: datetime) -> Lifecycle:
    """The producer's ``deprecated``: applied unless an operator's status stands over it."""
    if doc.status_by == "operator" or "declare" not in ALLOWED[doc.status]:
        return doc
    if deprecation is None:
        if doc.status != "deprecated":
            return doc
        event = LifecycleEvent(at=at, by="producer", action="declare", details={"status": "active"})
        return _with(
            doc,
            event,
            event.details,
            status="active",
            message=None,
            successor=None,
            since=at,
            status_by=None,
        )
    same = (doc.status, doc.message, doc.successor) == (
        "deprecated",
        deprecation.message,
        deprecation.successor,
    )
    if same:
        return doc
    details = {"status": "deprecated"}
    if deprecation.successor:
        details["successor"] = deprecation.successor
    event = LifecycleEvent(at=at, by="producer", action="declare", note=deprecation.message)
    return _with(
        doc,
        event,
        details,
        status="deprecated",
        message=deprecation.message,
        successor=deprecation.successor,
        since=at,
        status_by="producer",
    )


def move(
    doc: Lifecycle,
    to: str | DatasetId,
    *,
    by: str,
    at: datetime,
    note: str | None = None,
    target: Lifecycle | None = None,
    target_live: bool = False,
    read: Callable[[str], Lifecycle | None] | None = None,
) -> tuple[Lifecycle, Lifecycle]:
    """Move a dataset to the id ``to``: the old id's tombstone, and the dataset at ``to``.

    The dataset keeps its status, trust and audit trail; the old id becomes a ``moved``
    pointer, reserved for good. ``to`` must be free: no live dataset (``target_live``) and no
    lifecycle of its own (``target``), except the tombstone of an id this very dataset had
    before (a move back), found by following ``target`` with ``read``.

    Raises:
        InvalidTransition: the status forbids a move, or ``to`` is taken or reserved.
    """
    _check(doc, "move")
    new_id = str(DatasetId.parse(to))
    ds = doc.dataset_id
    if new_id == ds:
        raise InvalidTransition(ds, f"{ds} is already its own id", status=doc.status, action="move")
    if target_live:
        raise InvalidTransition(
            ds,
            f"{new_id} is another dataset: a dataset cannot move onto an id in use",
            status=doc.status,
            action="move",
            hint="choose a free id",
        )
    if target is not None:
        ends = resolve(new_id, read or {new_id: target}.get).dataset_id
        if target.status != "moved" or ends != ds:
            what = f"the reserved old id of {ends}" if target.status == "moved" else target.status
            raise InvalidTransition(
                ds,
                f"{new_id} is {what}: ids once used are reserved for the dataset that had them",
                status=doc.status,
                action="move",
                hint="choose a free id",
            )
    note = _text(note, "the note")
    event = LifecycleEvent(
        at=at, by=by, action="move", note=note, details={"from": ds, "to": new_id}
    )
    events = [*doc.events, event]
    tombstone = Lifecycle(
        dataset_id=ds,
        status="moved",
        moved_to=new_id,
        since=at,
        status_by="operator",
        events=events,
    )
    previous = [p for p in [*doc.previous_ids, ds] if p != new_id]
    arrived = msgspec.structs.replace(doc, dataset_id=new_id, previous_ids=previous, events=events)
    return tombstone, arrived


# -- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolution:
    """Where an id leads: the live id after every move, and its lifecycle."""

    requested: str
    dataset_id: str
    """The id the dataset is at now (``requested`` when it never moved)."""
    lifecycle: Lifecycle | None
    """The lifecycle at ``dataset_id`` (``None``: none written, an active dataset)."""
    hops: tuple[str, ...] = ()
    """The ids passed through, ``requested`` first (empty when it never moved)."""

    @property
    def moved(self) -> bool:
        """Whether ``requested`` moved."""
        return self.dataset_id != self.requested


def resolve(dataset_id: str | DatasetId, read: Callable[[str], Lifecycle | None]) -> Resolution:
    """Follow the moves from ``dataset_id``: ``read(id)`` gives an id's lifecycle or ``None``.

    Raises:
        FormatError: the moves loop, or go on past :data:`MAX_HOPS` (a broken store).

    Example:
        >>> docs = {"a/x": Lifecycle(dataset_id="a/x", status="moved", moved_to="b/y")}
        >>> r = resolve("a/x", docs.get)
        >>> r.dataset_id, r.hops, r.lifecycle
        ('b/y', ('a/x',), None)
    """
    start = str(DatasetId.parse(dataset_id))
    current, seen = start, [start]
    doc = read(current)
    while doc is not None and doc.status == "moved":
        if not doc.moved_to:
            raise FormatError(
                f"{current}/lifecycle.json: status is moved, but moved_to is empty",
                document="lifecycle.json",
                field="moved_to",
            )
        nxt = str(DatasetId.parse(doc.moved_to))
        if nxt in seen or len(seen) > MAX_HOPS:
            chain = " -> ".join([*seen, nxt])
            raise FormatError(
                f"the moves from {start} never end at a dataset ({shorten(chain, 400)})",
                document="lifecycle.json",
                field="moved_to",
            )
        seen.append(nxt)
        current = nxt
        doc = read(current)
    return Resolution(start, current, doc, tuple(seen[:-1]))


def effective_lifecycle(
    dataset_id: str, doc: Lifecycle | None, meta: DatasetMetadata | None = None
) -> Lifecycle:
    """The lifecycle that applies: ``doc``, else the producer's ``deprecated`` in ``meta``.

    Example:
        >>> effective_lifecycle("ecb/fx", None).status
        'active'
    """
    if doc is not None:
        return doc
    if meta is not None and meta.deprecated is not None:
        return Lifecycle(
            dataset_id=dataset_id,
            status="deprecated",
            message=meta.deprecated.message,
            successor=meta.deprecated.successor,
            status_by="producer",
        )
    return Lifecycle(dataset_id=dataset_id)


# -- what readers and producers are told -----------------------------------------------------


def moved_message(old: str, new: str) -> str:
    """The warning a reader of a moved id gets (a ``DeprecationWarning``).

    Example:
        >>> moved_message("ecb/fx", "ecb/fx-rates")
        "ecb/fx moved to ecb/fx-rates: reading 'ecb/fx-rates' instead; use the new id"
    """
    return f"{old} moved to {new}: reading {new!r} instead; use the new id"


def deprecation_message(doc: Lifecycle) -> str:
    """The warning a reader of a deprecated dataset gets (a ``DeprecationWarning``).

    Example:
        >>> deprecation_message(Lifecycle(dataset_id="ecb/fx", status="deprecated",
        ...                               message="Superseded.", successor="ecb/fx2"))
        'ecb/fx is deprecated: Superseded. Use ecb/fx2 instead.'
    """
    text = f"{doc.dataset_id} is deprecated: {doc.message or 'no reason given'}"
    if doc.successor:
        text = text.rstrip() + f" Use {doc.successor} instead."
    return text


def withdrawn_error(doc: Lifecycle) -> DatasetWithdrawn:
    """The error a reader of a withdrawn dataset gets: reason, date and citation."""
    return DatasetWithdrawn(
        doc.dataset_id,
        doc.reason or "unspecified",
        withdrawn_at=doc.since,
        citation=doc.citation,
        note=doc.message,
    )


def refuse_publish(resolution: Resolution) -> None:
    """Refuse a publish to a moved or withdrawn id, naming where to publish instead.

    Raises:
        PermissionDenied: the requested id moved (the message names the live id) or the
            dataset is withdrawn.
    """
    old = resolution.requested
    if resolution.moved:
        new = resolution.dataset_id
        raise PermissionDenied(
            f"{old} moved to {new}: the old id is reserved and no longer published; publish "
            f"to {new}",
            dataset_id=old,
            hint=f"set `id: {new}` in opendata.yaml (and the id passed to od push)",
        )
    doc = resolution.lifecycle
    if doc is not None and doc.status == "withdrawn":
        when = f" on {doc.since:%Y-%m-%d}" if doc.since else ""
        raise PermissionDenied(
            f"{old} was withdrawn{when} ({doc.reason}): it cannot be published again",
            dataset_id=old,
            hint=f"only the registry's operator can restore it (opendata-registry datasets "
            f"restore {old})",
        )
