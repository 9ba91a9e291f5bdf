from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import msgspec
import pytest

from opendata_core import (
    FORMAT_VERSION,
    DatasetMetadata,
    Field,
    FormatError,
    Index,
    IndexEntry,
    Manifest,
    MetadataDocument,
    Provenance,
    RunRecord,
    Shard,
    Source,
    Stats,
    UnsupportedFormatVersion,
    decode_document,
    encode_document,
    schema_hash,
)
from opendata_core.errors import shorten

NOW = datetime(2024, 5, 1, 6, 30, tzinfo=UTC)
SCHEMA = [
    Field(name="date", type="date32[day]", nullable=False),
    Field(name="currency", type="string"),
    Field(name="rate", type="double"),
]
SHA = "ab" * 32


def manifest() -> Manifest:
    return Manifest(
        dataset_id="ecb/fx",
        publish_id="p1",
        published_at=NOW,
        time_column="date",
        partition="year",
        schema=SCHEMA,
        schema_hash=schema_hash(SCHEMA),
        row_count=10,
        bytes=1234,
        min_time="2023-01-02",
        max_time="2024-04-30",
        shards=[
            Shard(
                path=f"parts/{SHA}.parquet",
                sha256=SHA,
                rows=10,
                bytes=1234,
                partition="2023",
                min="2023-01-02",
                max="2023-12-29",
            )
        ],
    )


def stats() -> Stats:
    return Stats(
        row_count=10,
        bytes=1234,
        shard_count=1,
        schema_hash=schema_hash(SCHEMA),
        min_time="2023-01-02",
        max_time="2024-04-30",
        columns=3,
        null_counts={"rate": 0},
    )


def documents() -> list[msgspec.Struct]:
    meta = DatasetMetadata(
        id="ecb/fx",
        title="FX",
        description="d",
        license="CC-BY-4.0",
        repo="https://github.com/ecb/fx",
        source=Source(provider="ECB"),
    )
    return [
        manifest(),
        MetadataDocument(
            dataset=meta,
            stats=stats(),
            schema=SCHEMA,
            preview=[{"date": "2024-04-30", "currency": "USD", "rate": 1.07}],
            updated_at=NOW,
            provenance=Provenance(repo=meta.repo, commit="abc"),
        ),
        Index(
            updated_at=NOW,
            datasets=[
                IndexEntry(
                    id="ecb/fx",
                    title="FX",
                    description="d",
                    license="CC-BY-4.0",
                    repo=meta.repo,
                    provider="ECB",
                    updated_at=NOW,
                )
            ],
        ),
        RunRecord(
            dataset_id="ecb/fx",
            run_id="r1",
            status="failure",
            error_class="network",
            message="timed out",
            started_at=NOW,
            finished_at=NOW,
        ),
    ]


@pytest.mark.parametrize("doc", documents(), ids=lambda d: type(d).__name__)
def test_round_trip(doc: msgspec.Struct) -> None:
    data = encode_document(doc)
    assert json.loads(data)["format"] == FORMAT_VERSION
    assert decode_document(data, type(doc)) == doc


@pytest.mark.parametrize("doc", documents(), ids=lambda d: type(d).__name__)
def test_wire_documents_tolerate_unknown_fields(doc: msgspec.Struct) -> None:
    raw = json.loads(encode_document(doc))
    raw["added_in_1_1"] = {"anything": [1, 2]}
    raw["format"] = "1.7"
    back = decode_document(json.dumps(raw).encode(), type(doc))
    assert msgspec.structs.replace(back, format=FORMAT_VERSION) == doc  # type: ignore[type-var]


def test_metadata_document_tolerates_new_yaml_fields() -> None:
    doc = documents()[1]
    raw = json.loads(encode_document(doc))
    raw["dataset"]["future_field"] = "x"
    raw["dataset"]["source"]["license_url"] = "https://x"
    assert decode_document(json.dumps(raw), MetadataDocument).dataset.id == "ecb/fx"


def test_metadata_head_is_the_catalogue_part_of_metadata_json() -> None:
    from opendata_core.documents import MetadataHead

    full = {f.name: f for f in msgspec.structs.fields(MetadataDocument)}
    for f in msgspec.structs.fields(MetadataHead):
        assert (f.type, f.default) == (full[f.name].type, full[f.name].default), f.name
    doc = documents()[1]
    head = decode_document(encode_document(doc), MetadataHead)
    assert (head.dataset, head.stats, head.updated_at, head.provenance) == (
        doc.dataset,
        doc.stats,
        doc.updated_at,
        doc.provenance,
    )
    broken = json.loads(encode_document(doc))
    broken["stats"] = 3
    with pytest.raises(FormatError, match=r"metadata.json.*\$\.stats"):
        decode_document(json.dumps(broken), MetadataHead)


@pytest.mark.parametrize("doc", documents(), ids=lambda d: type(d).__name__)
def test_newer_major_asks_for_an_upgrade(doc: msgspec.Struct) -> None:
    raw = json.loads(encode_document(doc))
    raw["format"] = "2.0"
    with pytest.raises(
        UnsupportedFormatVersion,
        match=rf"format 2\.0 is newer than the supported {re.escape(FORMAT_VERSION)}; upgrade",
    ):
        decode_document(json.dumps(raw).encode(), type(doc))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "manifest.json: not a valid JSON document"),
        (b"[]", "manifest.json: not a valid JSON document"),
        (b'{"format": "one"}', "format 'one' is not 'MAJOR.MINOR'"),
        (b'{"format": "1.0"}', "manifest.json: Object missing required field `dataset_id`"),
    ],
)
def test_bad_json_gives_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        decode_document(data, Manifest)


def test_wrong_type_names_the_json_path() -> None:
    raw = json.loads(encode_document(manifest()))
    raw["shards"][0]["rows"] = "ten"
    with pytest.raises(FormatError) as info:
        decode_document(json.dumps(raw), Manifest)
    assert info.value.field == "$.shards[0].rows"
    assert "Expected `int`, got `str`" in str(info.value)
    assert info.value.document == "manifest.json"


def test_schema_hash_is_stable_and_documented() -> None:
    # The canonical form is spelled out in the docstring and docs/spec.md; pin one value.
    canonical = b'[["date","date32[day]",false],["currency","string",true],["rate","double",true]]'
    import hashlib

    assert schema_hash(SCHEMA) == hashlib.sha256(canonical).hexdigest()
    assert schema_hash(SCHEMA) == schema_hash(list(SCHEMA))


@pytest.mark.parametrize(
    "changed",
    [
        SCHEMA[:2],  # removed
        [*SCHEMA, Field(name="x", type="int64")],  # added
        [SCHEMA[1], SCHEMA[0], SCHEMA[2]],  # reordered
        [SCHEMA[0], SCHEMA[1], Field(name="rate", type="float")],  # re-typed
        [SCHEMA[0], SCHEMA[1], Field(name="rate", type="double", nullable=False)],  # nullability
        [SCHEMA[0], SCHEMA[1], Field(name="Rate", type="double")],  # renamed
    ],
)
def test_schema_hash_changes_with_the_schema(changed: list[Field]) -> None:
    assert schema_hash(changed) != schema_hash(SCHEMA)


def test_index_entry_namespace() -> None:
    entry = documents()[2].datasets[0]  # type: ignore[attr-defined]
    assert entry.namespace == "ecb"


def _mutated(**changes: object) -> bytes:
    doc = msgspec.to_builtins(manifest())
    for key, value in changes.items():
        if key.startswith("shard0_"):
            doc["shards"][0][key.removeprefix("shard0_")] = value
        else:
            doc[key] = value
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"time_column": "when"}, "time_column", "'when' is not a column of the schema"),
        ({"time_column": "currency"}, "time_column", "not a date or timestamp"),
        ({"min_time": "garbage"}, "min_time", "'garbage' is not an ISO 8601"),
        ({"shard0_max": "2024-13-45"}, "shards[0].max", "is not an ISO 8601"),
        ({"shard0_sha256": "XYZ"}, "shards[0].sha256", "'XYZ' is not 64 lower-case hex digits"),
        ({"shard0_path": "parts/../../x.parquet"}, "shards[0].path", "is not 'parts/<its"),
        ({"shard0_path": f"other/{SHA}.parquet"}, "shards[0].path", "is not 'parts/<its"),
        ({"shard0_rows": -1, "row_count": -1}, "shards[0].rows", "must be ≥ 0"),
        ({"row_count": 5}, "row_count", "= 5 is not the sum of the shards' rows (10)"),
        ({"bytes": 5}, "bytes", "is not the sum of the shards' bytes"),
        ({"shard0_path": "x" * 5000}, "shards[0].path", "(5,000 characters)"),
    ],
)
def test_manifest_is_checked_as_a_whole(changes: dict[str, object], field: str, text: str) -> None:
    with pytest.raises(FormatError, match=re.escape(text)) as info:
        decode_document(_mutated(**changes), Manifest, name="x/y/manifest.json")
    assert info.value.field == field
    assert info.value.document == "x/y/manifest.json"
    assert str(info.value).startswith(f"x/y/manifest.json: {field}")
    assert len(str(info.value)) < 400


def test_duplicate_shards_are_refused() -> None:
    doc = msgspec.to_builtins(manifest())
    doc["shards"].append(doc["shards"][0])
    doc["row_count"] += doc["shards"][0]["rows"]
    doc["bytes"] += doc["shards"][0]["bytes"]
    with pytest.raises(FormatError, match=r"shards\[1\]\.sha256 = .* lists the same shard twice"):
        decode_document(json.dumps(doc).encode(), Manifest)


def test_an_empty_manifest_is_valid() -> None:
    doc = msgspec.to_builtins(manifest())
    doc.update(shards=[], row_count=0, bytes=0, min_time=None, max_time=None)
    assert decode_document(json.dumps(doc).encode(), Manifest).shards == []


def test_shorten_cuts_long_inputs() -> None:
    assert shorten("abc") == "abc"
    cut = shorten("y" * 100_000)
    assert len(cut) < 200
    assert cut.endswith("… (100,000 characters)")
