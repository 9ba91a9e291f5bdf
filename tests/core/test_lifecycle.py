"""Core's lifecycle model: the transition table, moves and their reservations, the yaml field."""

from __future__ import annotations

import itertools
import textwrap
from datetime import UTC, date, datetime
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendata_core import errors as e
from opendata_core.documents import IndexEntry, decode_document, encode_document
from opendata_core.layout import Layout
from opendata_core.lifecycle import (
    ACTIONS,
    ALLOWED,
    REASON_TERMS,
    STATUS_TERMS,
    STATUSES,
    TRUST_LEVELS,
    TRUST_TERMS,
    WITHDRAWAL_REASONS,
    Declare,
    Deprecate,
    Lifecycle,
    Restore,
    Transfer,
    Trust,
    Verify,
    Withdraw,
    deprecation_message,
    effective_lifecycle,
    move,
    refuse_publish,
    resolve,
    transition,
    trust_at_least,
)
from opendata_core.metadata import Deprecation, check_metadata, validate_metadata

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
SPEC = Path(__file__).resolve().parents[2] / "docs" / "spec.md"

CHANGES = {
    "verify": Verify(level="verified-source", note="licence checked with the provider"),
    "deprecate": Deprecate(message="Superseded by the daily series.", successor="ecb/fx-daily"),
    "withdraw": Withdraw(reason="privacy", note="names in column 3", citation="ECB (2025)."),
    "restore": Restore(note="the names were removed"),
    "transfer": Transfer(to_owner="ecb-data", datasets="follow"),
}


def doc_in(status: str) -> Lifecycle:
    """A lifecycle in ``status``, reached by the changes themselves."""
    doc = Lifecycle(dataset_id="ecb/fx")
    if status == "deprecated":
        doc = transition(doc, CHANGES["deprecate"], by="op", at=NOW)  # type: ignore[arg-type]
    elif status == "withdrawn":
        doc = transition(doc, CHANGES["withdraw"], by="op", at=NOW)  # type: ignore[arg-type]
    elif status == "moved":
        doc, _ = move(doc, "ecb/fx-rates", by="op", at=NOW)
    assert doc.status == status
    return doc


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", [a for a in ACTIONS if a not in ("move", "declare")])
def test_every_change_in_every_status_follows_the_table(status: str, action: str) -> None:
    doc = doc_in(status)
    allowed = action in ALLOWED[status] and not (status == "active" and action == "restore")
    if not allowed:
        with pytest.raises(e.InvalidTransition) as caught:
            transition(doc, CHANGES[action], by="alice", at=NOW)  # type: ignore[arg-type]
        assert caught.value.status == status
        assert caught.value.action == action
        assert "ecb/fx" in str(caught.value)
        if status == "moved":
            assert caught.value.hint == "apply the change to ecb/fx-rates"
        if status == "withdrawn":
            assert "opendata-registry datasets restore ecb/fx" in (caught.value.hint or "")
        return
    after = transition(doc, CHANGES[action], by="alice", at=NOW)  # type: ignore[arg-type]
    assert after is not doc
    assert len(after.events) == len(doc.events) + 1
    event = after.events[-1]
    assert (event.action, event.by, event.at) == (action, "alice", NOW)
    expected_status = {
        "verify": status,
        "transfer": status,
        "deprecate": "deprecated",
        "withdraw": "withdrawn",
        "restore": "active",
    }[action]
    assert after.status == expected_status
    assert doc.events == doc_in(status).events  # the input is left as it was


def test_changes_record_what_changed() -> None:
    doc = Lifecycle(dataset_id="ecb/fx")
    doc = transition(
        doc,
        Verify(level="audited", note="six months on schedule", review_by=date(2027, 6, 30)),
        by="alice",
        at=NOW,
    )
    assert doc.trust == Trust(
        level="audited",
        granted_by="alice",
        granted_at=NOW,
        note="six months on schedule",
        review_by=date(2027, 6, 30),
    )
    assert doc.events[-1].details == {"level": "audited", "review_by": "2027-06-30"}
    doc = transition(doc, CHANGES["withdraw"], by="bob", at=NOW)  # type: ignore[arg-type]
    assert (doc.status, doc.reason, doc.message, doc.citation, doc.since) == (
        "withdrawn",
        "privacy",
        "names in column 3",
        "ECB (2025).",
        NOW,
    )
    assert doc.trust.level == "audited"  # kept: a restore gives it back
    doc = transition(doc, Restore(), by="bob", at=NOW)
    assert (doc.status, doc.reason, doc.citation, doc.status_by) == ("active", None, None, None)
    assert [ev.action for ev in doc.events] == ["verify", "withdraw", "restore"]
    assert doc.events[-1].details == {"from": "withdrawn"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (Deprecate(message="  "), "a deprecation needs a message"),
        (Deprecate(message="x", successor="ecb/fx"), "the successor ecb/fx is the dataset itself"),
        (Verify(level="audited", note="x" * 2001), "the note is 2001 characters long"),
    ],
)
def test_bad_arguments_are_refused(change: Deprecate | Verify, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        transition(Lifecycle(dataset_id="ecb/fx"), change, by="op", at=NOW)


def test_a_bad_successor_id_names_the_rule() -> None:
    with pytest.raises(e.InvalidDatasetId, match="exactly one '/'"):
        transition(
            Lifecycle(dataset_id="ecb/fx"), Deprecate(message="m", successor="fx"), by="o", at=NOW
        )


def test_trust_lapses_after_its_review_date() -> None:
    trust = Trust(level="verified-publisher", review_by=date(2026, 12, 31))
    assert trust.effective(date(2026, 12, 31)) == "verified-publisher"
    assert trust.effective(date(2027, 1, 1)) == "none"
    assert Trust(level="audited").effective(date(2099, 1, 1)) == "audited"
    assert [trust_at_least(level, "verified-source") for level in TRUST_LEVELS] == [
        False,
        False,
        True,
        True,
    ]


def test_every_value_has_its_one_meaning_and_the_spec_shows_it() -> None:
    assert tuple(TRUST_TERMS) == TRUST_LEVELS
    assert tuple(STATUS_TERMS) == STATUSES
    assert tuple(REASON_TERMS) == WITHDRAWAL_REASONS
    spec = SPEC.read_text(encoding="utf-8")
    for term in [*TRUST_TERMS.values(), *STATUS_TERMS.values(), *REASON_TERMS.values()]:
        assert term.label and term.meaning.endswith(".")
        assert f"| `{term.value}` | {term.label} | {term.meaning} |" in spec, term.value
    for status in STATUSES:
        row = " | ".join("✓" if a in ALLOWED[status] else "–" for a in ACTIONS)
        assert f"| `{status}` | {row} |" in spec, status
    assert "| status | " + " | ".join(ACTIONS) + " |" in spec


# -- the producer's `deprecated` ---------------------------------------------------------------


def test_the_producer_deprecates_and_undeprecates_its_own_dataset() -> None:
    doc = Lifecycle(dataset_id="ecb/fx")
    assert transition(doc, Declare(deprecation=None), by="producer", at=NOW) is doc
    declared = Deprecation(message="Use the daily series.", successor="ecb/fx-daily")
    doc = transition(doc, Declare(deprecation=declared), by="producer", at=NOW)
    assert (doc.status, doc.status_by, doc.successor) == ("deprecated", "producer", "ecb/fx-daily")
    assert deprecation_message(doc) == (
        "ecb/fx is deprecated: Use the daily series. Use ecb/fx-daily instead."
    )
    again = transition(doc, Declare(deprecation=declared), by="producer", at=NOW)
    assert again is doc  # the same declaration at the next publish records nothing
    doc = transition(doc, Declare(deprecation=None), by="producer", at=NOW)
    assert (doc.status, doc.status_by) == ("active", None)
    assert [ev.action for ev in doc.events] == ["declare", "declare"]


def test_an_operator_overrides_the_producer() -> None:
    declared = Deprecation(message="Old.")
    doc = transition(Lifecycle(dataset_id="ecb/fx"), Declare(deprecation=declared), by="p", at=NOW)
    doc = transition(doc, Restore(note="still the reference series"), by="alice", at=NOW)
    assert (doc.status, doc.status_by) == ("active", "operator")
    assert transition(doc, Declare(deprecation=declared), by="p", at=NOW) is doc
    op = transition(
        Lifecycle(dataset_id="ecb/fx"), Deprecate(message="Unmaintained."), by="alice", at=NOW
    )
    assert transition(op, Declare(deprecation=None), by="p", at=NOW) is op
    withdrawn = doc_in("withdrawn")
    assert transition(withdrawn, Declare(deprecation=declared), by="p", at=NOW) is withdrawn


def test_effective_lifecycle_falls_back_on_the_yaml() -> None:
    meta = validate_metadata(
        {
            "id": "ecb/fx",
            "title": "FX",
            "description": "d",
            "license": "CC0-1.0",
            "repo": "https://github.com/ecb/fx",
            "source": {"provider": "ECB"},
            "deprecated": {"message": "Use ecb/fx2.", "successor": "ECB/FX2"},
        }
    )
    assert meta.deprecated == Deprecation(message="Use ecb/fx2.", successor="ecb/fx2")
    state = effective_lifecycle("ecb/fx", None, meta)
    assert (state.status, state.successor, state.status_by) == ("deprecated", "ecb/fx2", "producer")
    entry = IndexEntry.from_metadata(meta)
    assert (entry.status, entry.successor, entry.trust) == ("deprecated", "ecb/fx2", "none")
    verified = transition(
        Lifecycle(dataset_id="ecb/fx"),
        Verify(level="verified-publisher", review_by=date(2027, 1, 1)),
        by="op",
        at=NOW,
    )
    entry = IndexEntry.from_metadata(meta, lifecycle=verified)
    assert (entry.status, entry.trust, entry.trust_review_by) == (
        "active",
        "verified-publisher",
        date(2027, 1, 1),
    )


YAML = """\
id: ecb/fx
title: FX
description: d
license: CC0-1.0
repo: https://github.com/ecb/fx
source:
  provider: ECB
"""


@pytest.mark.parametrize(
    ("block", "finding"),
    [
        (
            "deprecated:\n  successor: ecb/fx2\n",
            "opendata.yaml:9:3: deprecated: missing required field 'message'",
        ),
        (
            "deprecated:\n  mesage: old\n",
            "opendata.yaml:9:3: deprecated.mesage: unknown field 'mesage' (did you mean 'message'?)",
        ),
        (
            "deprecated:\n  message: old\n  successor: fx2\n",
            "opendata.yaml:10:14: deprecated.successor: must be 'namespace/name' with exactly one "
            "'/' (found no '/')",
        ),
        (
            "deprecated:\n  message: old\n  successor: ecb/FX\n",
            "opendata.yaml:10:14: deprecated.successor: 'ecb/FX' is this dataset's own id",
        ),
        (
            "deprecated: yes please\n",
            "opendata.yaml:8:13: deprecated: must be a mapping of message, successor, got a string",
        ),
        (
            f"deprecated:\n  message: {'x' * 501}\n",
            "opendata.yaml:9:12: deprecated.message: is 501 characters long; the limit is 500",
        ),
    ],
)
def test_bad_deprecated_fields_are_findings(tmp_path: Path, block: str, finding: str) -> None:
    path = tmp_path / "opendata.yaml"
    path.write_text(YAML + block, encoding="utf-8")
    report = check_metadata(path)
    assert not report.ok
    assert str(report.errors[0]).replace(str(tmp_path) + "/", "").startswith(finding)


def test_a_valid_deprecated_field_loads(tmp_path: Path) -> None:
    path = tmp_path / "opendata.yaml"
    block = "deprecated:\n  message: Use the daily series.  # why\n  successor: ecb/fx-daily\n"
    path.write_text(YAML + textwrap.dedent(block), encoding="utf-8")
    report = check_metadata(path)
    assert report.ok, report.errors
    assert report.metadata is not None
    assert report.metadata.deprecated == Deprecation(
        message="Use the daily series.", successor="ecb/fx-daily"
    )


# -- the document and the layout ---------------------------------------------------------------


def test_the_document_round_trips_and_lives_beside_the_manifest() -> None:
    doc = transition(doc_in("deprecated"), CHANGES["verify"], by="alice", at=NOW)  # type: ignore[arg-type]
    back = decode_document(encode_document(doc), Lifecycle, name="lifecycle.json")
    assert back == doc
    plain = msgspec.json.decode(encode_document(doc))
    assert plain["format"] == "1.1"
    assert plain["events"][0]["action"] == "deprecate"
    assert Layout("p").lifecycle("ecb/fx") == "p/datasets/ecb/fx/lifecycle.json"  # type: ignore[arg-type]


# -- moves -------------------------------------------------------------------------------------


def test_a_move_keeps_status_trust_and_trail_and_leaves_a_pointer() -> None:
    doc = transition(doc_in("deprecated"), CHANGES["verify"], by="alice", at=NOW)  # type: ignore[arg-type]
    old, new = move(doc, "ECB-Data/fx", by="alice", at=NOW, note="namespace renamed")
    assert (old.status, old.moved_to, old.status_by) == ("moved", "ecb-data/fx", "operator")
    assert (new.dataset_id, new.status, new.trust.level) == (
        "ecb-data/fx",
        "deprecated",
        "verified-source",
    )
    assert new.previous_ids == ["ecb/fx"]
    assert new.events[-1].details == {"from": "ecb/fx", "to": "ecb-data/fx"}
    assert new.events == old.events


def test_moves_onto_taken_or_reserved_ids_are_refused() -> None:
    live = Lifecycle(dataset_id="a/x")
    with pytest.raises(e.InvalidTransition, match="b/y is another dataset"):
        move(live, "b/y", by="o", at=NOW, target_live=True)
    with pytest.raises(e.InvalidTransition, match="already its own id"):
        move(live, "A/X", by="o", at=NOW)
    other_tombstone = Lifecycle(dataset_id="b/y", status="moved", moved_to="c/z")
    with pytest.raises(e.InvalidTransition, match="b/y is the reserved old id of c/z"):
        move(live, "b/y", by="o", at=NOW, target=other_tombstone)
    withdrawn = Lifecycle(dataset_id="b/y", status="withdrawn", reason="legal")
    with pytest.raises(e.InvalidTransition, match="b/y is withdrawn"):
        move(live, "b/y", by="o", at=NOW, target=withdrawn)


def test_a_dataset_may_move_back_to_an_id_it_had() -> None:
    old, new = move(Lifecycle(dataset_id="a/x"), "b/y", by="o", at=NOW)
    back_old, back_new = move(new, "a/x", by="o", at=NOW, target=old)
    assert (back_new.dataset_id, back_new.status, back_new.previous_ids) == (
        "a/x",
        "active",
        ["b/y"],
    )
    assert (back_old.dataset_id, back_old.moved_to) == ("b/y", "a/x")


def test_resolve_follows_chains_and_refuses_loops() -> None:
    docs = {
        "a/x": Lifecycle(dataset_id="a/x", status="moved", moved_to="b/y"),
        "b/y": Lifecycle(dataset_id="b/y", status="moved", moved_to="c/z"),
        "c/z": Lifecycle(dataset_id="c/z", status="deprecated", message="old"),
    }
    r = resolve("A/X", docs.get)
    assert (r.requested, r.dataset_id, r.hops, r.moved) == ("a/x", "c/z", ("a/x", "b/y"), True)
    assert r.lifecycle is docs["c/z"]
    assert not resolve("c/z", docs.get).moved
    docs["c/z"] = Lifecycle(dataset_id="c/z", status="moved", moved_to="a/x")
    with pytest.raises(e.FormatError, match=r"never end at a dataset \(a/x -> b/y -> c/z -> a/x\)"):
        resolve("a/x", docs.get)


def test_publishes_to_moved_or_withdrawn_ids_are_refused_naming_the_new_id() -> None:
    docs = {
        "a/x": Lifecycle(dataset_id="a/x", status="moved", moved_to="b/y"),
        "b/y": Lifecycle(dataset_id="b/y", status="moved", moved_to="c/z"),
        "w/w": doc_in("withdrawn"),
    }
    with pytest.raises(e.PermissionDenied) as caught:
        refuse_publish(resolve("a/x", docs.get))
    assert str(caught.value) == (
        "a/x moved to c/z: the old id is reserved and no longer published; publish to c/z"
    )
    assert caught.value.hint == "set `id: c/z` in opendata.yaml (and the id passed to od push)"
    with pytest.raises(e.PermissionDenied, match=r"withdrawn on 2026-12-07 \(privacy\)"):
        refuse_publish(resolve("w/w", {"w/w": docs["w/w"]}.get))
    refuse_publish(resolve("c/z", docs.get))  # live: nothing to refuse


# A random sequence of publishes, moves, withdrawals and restores over four ids in two
# namespaces. Each dataset has an identity (a number given at its first publish); a move carries
# it to the new id. Moves and withdrawals are drawn from the datasets that exist at that step,
# so that most steps change something.
IDS = [f"{ns}/{name}" for ns in ("a", "b") for name in ("x", "y")]
KINDS = st.sampled_from(["publish", "move", "move", "move", "withdraw", "restore"])


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_after_any_sequence_of_moves_every_id_resolves_to_its_own_dataset(
    data: st.DataObject,
) -> None:
    docs: dict[str, Lifecycle] = {}
    holder: dict[str, int] = {}  # live id -> the identity of the dataset there
    ever: dict[str, set[int]] = {}  # every id ever used -> the identities that were there
    identities = itertools.count(1)
    for _step in range(data.draw(st.integers(1, 25), label="steps")):
        op = data.draw(KINDS, label="op")
        if op != "publish" and not holder:
            continue
        ds = data.draw(st.sampled_from(IDS if op == "publish" else sorted(holder)), label=op)
        if op == "publish":
            try:
                refuse_publish(resolve(ds, docs.get))
            except e.PermissionDenied:
                assert ds not in holder or docs[ds].status == "withdrawn"
                continue
            if ds not in holder:
                holder[ds] = next(identities)
                ever.setdefault(ds, set()).add(holder[ds])
        elif op == "move":
            to = data.draw(st.sampled_from(IDS), label="to")
            current = docs.get(ds, Lifecycle(dataset_id=ds))
            try:
                old, new = move(
                    current,
                    to,
                    by="op",
                    at=NOW,
                    target=docs.get(to),
                    target_live=to in holder,
                    read=docs.get,
                )
            except e.InvalidTransition:
                continue
            docs[ds], docs[to] = old, new
            holder[to] = holder.pop(ds)
            ever.setdefault(to, set()).add(holder[to])
        else:
            change = CHANGES[op]
            try:
                docs[ds] = transition(
                    docs.get(ds, Lifecycle(dataset_id=ds)), change, by="o", at=NOW
                )  # type: ignore[arg-type]
            except e.InvalidTransition:
                continue
        for used, held in ever.items():
            # An id was only ever held by one dataset: a reserved id is never taken by another.
            assert len(held) == 1, (used, held)
            # It resolves, without a loop, to exactly the dataset that had it: live or withdrawn.
            r = resolve(used, docs.get)
            assert r.dataset_id in holder
            assert holder[r.dataset_id] in held
            assert r.lifecycle is None or r.lifecycle.status in ("active", "withdrawn")
    for ds, doc in docs.items():
        assert (doc.status == "moved") == (ds not in holder)
