from __future__ import annotations

import pickle
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opendata_core import DatasetId, InvalidDatasetId, Layout, OpenDataError


@pytest.mark.parametrize(
    ("raw", "namespace", "name"),
    [
        ("ecb/euro-fx-rates", "ecb", "euro-fx-rates"),
        ("US-Treasury/Yield_Curve.daily", "us-treasury", "yield_curve.daily"),
        ("a/b", "a", "b"),
        ("a" * 39 + "/" + "n" * 100, "a" * 39, "n" * 100),
        ("x1/.github", "x1", ".github"),
        ("ns/a..b", "ns", "a..b"),
    ],
)
def test_valid_ids_are_canonical_lower_case(raw: str, namespace: str, name: str) -> None:
    ds = DatasetId.parse(raw)
    assert (ds.namespace, ds.name) == (namespace, name)
    assert str(ds) == f"{namespace}/{name}"
    assert DatasetId.parse(str(ds)) == ds
    assert hash(ds) == hash(DatasetId.parse(raw.upper() if raw.isascii() else raw))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("ecb", "exactly one '/' (found no '/')"),
        ("ecb/fx/daily", "exactly one '/' (found 2 '/')"),
        ("/fx", "namespace is empty"),
        ("ecb/", "name is empty"),
        ("-ecb/fx", "must not start or end with a hyphen"),
        ("ecb-/fx", "must not start or end with a hyphen"),
        ("e--cb/fx", "consecutive hyphens"),
        ("e_cb/fx", "contains '_' (U+005F LOW LINE); only letters, digits and single hyphens"),
        ("e.cb/fx", "contains '.'"),
        ("a" * 40 + "/fx", "namespace is 40 characters long; the limit is 39"),
        ("ecb/" + "n" * 101, "name is 101 characters long; the limit is 100"),
        ("ecb/.", "name must not be '.'"),
        ("ecb/..", "name must not be '..'"),
        ("ecb/fx rates", "space character ' ' (U+0020 SPACE)"),
        ("ecb/fx\x00", "control or space character"),
        ("ecb/fx\n", "control or space character"),
        ("\u0435cb/fx", "non-ASCII character 'е' (U+0435 CYRILLIC SMALL LETTER IE)"),
        ("\u212aey/fx", "U+212A KELVIN SIGN"),
        ("ecb/fx%2e", "contains '%'"),
        ("ecb/fx:1", "contains ':'"),
        ("ecb/fx\\..", "contains '\\\\'"),
        ("ecb/ｆｘ", "non-ASCII character"),
        ("", "exactly one '/'"),
    ],
)
def test_each_rule_rejects_with_a_message(raw: str, message: str) -> None:
    with pytest.raises(InvalidDatasetId) as info:
        DatasetId.parse(raw)
    assert message in str(info.value)
    assert info.value.value == raw
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, OpenDataError)
    assert info.value.hint and "namespace/name" in info.value.hint


def test_non_string_is_rejected() -> None:
    with pytest.raises(InvalidDatasetId, match="must be a string, not int"):
        DatasetId.parse(42)  # type: ignore[arg-type]


def test_ids_are_immutable_and_picklable() -> None:
    ds = DatasetId.parse("ecb/fx")
    with pytest.raises(AttributeError):
        ds._name = "x"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(ds)) == ds
    assert repr(ds) == "DatasetId('ecb/fx')"
    assert DatasetId("ECB", "FX") == ds
    with pytest.raises(InvalidDatasetId, match="name must not be '..'"):
        DatasetId("ecb", "..")


@given(st.text(max_size=150))
def test_any_text_is_valid_or_rejected_never_escapes(raw: str) -> None:
    _assert_contained(raw)


# Characters an attacker would reach for: separators, dots, percent-encoding, controls,
# Unicode look-alikes of '/', '.', and ASCII letters that lower-case to ASCII.
_TRICKY = [
    *list("/.\\%2eE-_ \t\r\n\x00:~"),
    "∕",
    "⁄",
    "／",
    "․",
    "．",
    "K",
    "İ",
    "е",
    "é",
    "%2e%2e",
    "%2f",
    "..",
    "./",
    "../",
]


@given(st.lists(st.sampled_from(_TRICKY + list(string.ascii_letters + string.digits)), max_size=60))
def test_crafted_ids_never_escape_their_prefix(parts: list[str]) -> None:
    _assert_contained("".join(parts))


@given(
    st.lists(st.sampled_from(_TRICKY), max_size=8).map("".join),
    st.lists(st.sampled_from(_TRICKY), max_size=8).map("".join),
)
def test_crafted_namespace_and_name(ns: str, name: str) -> None:
    _assert_contained(f"{ns}/{name}")


def _assert_contained(raw: str) -> None:
    try:
        ds = DatasetId.parse(raw)
    except InvalidDatasetId as exc:
        assert exc.rule
        return
    layout = Layout("pre/fix")
    prefix = f"pre/fix/datasets/{ds.namespace}/{ds.name}/"
    assert raw.isascii()
    assert ds.name not in (".", "..")
    assert "/" not in ds.name and "/" not in ds.namespace
    assert all(c.isascii() and c.isprintable() and not c.isspace() for c in str(ds))
    keys = [
        layout.manifest(ds),
        layout.metadata(ds),
        layout.readme(ds),
        layout.shard(ds, "0" * 64),
        layout.dataset_prefix(ds) + "x",
    ]
    for key in keys:
        assert key.startswith(prefix)
        segments = key.split("/")
        assert ".." not in segments and "." not in segments and "" not in segments[:-1]
        assert segments[:5] == ["pre", "fix", "datasets", ds.namespace, ds.name]


@pytest.mark.parametrize("value", ["a/" + "b" * 100_000, "x" * 100_000, "a/b c" + "d" * 100_000])
def test_long_ids_are_cut_in_the_message(value: str) -> None:
    from opendata_core.errors import InvalidDatasetId

    with pytest.raises(InvalidDatasetId) as info:
        DatasetId.parse(value)
    assert len(str(info.value)) < 400
    assert "characters)" in str(info.value)
    assert info.value.value == value  # the attribute keeps the whole input
