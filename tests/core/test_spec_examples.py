"""The JSON examples in docs/spec.md decode as the documents they show (issue 8)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from opendata_core.documents import (
    FORMAT_VERSION,
    Index,
    Manifest,
    MetadataDocument,
    RunRecord,
    decode_document,
)
from opendata_core.errors import FormatError
from opendata_core.lifecycle import Lifecycle

SPEC = Path(__file__).resolve().parents[2] / "docs" / "spec.md"
BLOCKS = re.findall(r"```json\n(.*?)```", SPEC.read_text(encoding="utf-8"), re.S)


def _document(example: dict[str, object]) -> type:
    if "events" in example:
        return Lifecycle
    if "shards" in example:
        return Manifest
    if "dataset" in example:
        return MetadataDocument
    if "datasets" in example:
        return Index
    if "run_id" in example:
        return RunRecord
    raise AssertionError(f"no document has the keys {sorted(example)}")


def test_the_spec_has_examples_of_every_document() -> None:
    kinds = {_document(json.loads(block)) for block in BLOCKS}
    assert kinds == {Manifest, MetadataDocument, Index, RunRecord, Lifecycle}


@pytest.mark.parametrize("block", BLOCKS, ids=[f"example-{i + 1}" for i in range(len(BLOCKS))])
def test_spec_example_decodes(block: str) -> None:
    document = _document(json.loads(block))
    decoded = decode_document(block.encode(), document, name="docs/spec.md")
    assert decoded.format == FORMAT_VERSION


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (lambda d: d["stats"].update(row_count=-1), "$.stats.row_count"),
        (lambda d: d["stats"].update(schema_hash="not-a-hash"), "$.stats.schema_hash"),
        (lambda d: d["stats"].update(null_counts={"x": -2}), "$.stats.null_counts"),
    ],
    ids=["negative-count", "bad-hash", "negative-nulls"],
)
def test_bad_metadata_documents_are_refused_with_the_json_path(edit: Any, path: str) -> None:
    example = next(json.loads(b) for b in BLOCKS if "dataset" in json.loads(b))
    edit(example)
    with pytest.raises(FormatError, match=re.escape(path)):
        decode_document(json.dumps(example).encode(), MetadataDocument, name="metadata.json")


def test_an_unknown_partitioning_is_refused() -> None:
    example = next(json.loads(b) for b in BLOCKS if "shards" in json.loads(b))
    example["partition"] = "weekly"
    with pytest.raises(FormatError, match=r"\$\.partition"):
        decode_document(json.dumps(example).encode(), Manifest, name="manifest.json")
