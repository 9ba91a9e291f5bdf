"""The error table: every error survives the trip service → JSON body → client as the same type."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import msgspec
import pytest

from opendata_core import errors as e
from opendata_core._findings import Finding
from opendata_core.problems import (
    ERROR_CODES,
    ProblemDetails,
    error_from_problem,
    problem_from_error,
    status_of,
)

CASES: list[tuple[e.OpenDataError, str, int]] = [
    (e.InvalidDatasetId("A B", "no spaces"), "invalid_dataset_id", 400),
    (
        e.MetadataError(
            [Finding(path="opendata.yaml", line=3, column=1, field="id", message="missing")]
        ),
        "metadata_invalid",
        422,
    ),
    (e.FormatError("bad json", document="manifest.json", field="shards"), "format_error", 422),
    (
        e.UnsupportedFormatVersion(document="index.json", found="2.0", supported="1.0"),
        "unsupported_format_version",
        422,
    ),
    (e.Unauthenticated("invalid API key"), "unauthenticated", 401),
    (e.PermissionDenied("no", dataset_id="a/b"), "permission_denied", 403),
    (e.DatasetNotFound("a/b", ["a/bc"]), "dataset_not_found", 404),
    (e.DatasetMoved("a/b", "c/d"), "dataset_moved", 308),
    (
        e.DatasetWithdrawn(
            "a/b",
            "privacy",
            withdrawn_at=datetime(2026, 12, 1, tzinfo=UTC),
            citation="ECB (2025). FX rates (version 20250314T153112Z-9f8e7d6c) [Data set].",
            note="names of individuals in column 3",
        ),
        "dataset_withdrawn",
        410,
    ),
    (e.ColumnNotFound("a/b", "x", ["y", "z"]), "column_not_found", 422),
    (
        e.VersionNotFound("a/b", "a/b: version 'x' removed", version="x", oldest_kept="01J"),
        "version_not_found",
        404,
    ),
    (
        e.RangeOutsideCoverage("a/b", "2030 .. …", ("2020-01-01", "2024-12-31")),
        "range_outside_coverage",
        422,
    ),
    (e.SchemaMismatch("a/b", "x", "column x changed type"), "schema_mismatch", 422),
    (
        e.InvalidData("a/b: 2 null keys", dataset_id="a/b", column="k", hint="drop them"),
        "invalid_data",
        422,
    ),
    (e.ConflictError("a/b", publish_id="p2"), "conflict", 409),
    (
        e.InvalidTransition("a/b", "a/b is active", status="active", action="restore"),
        "invalid_transition",
        409,
    ),
    (e.RateLimited("slow down", retry_after=12), "rate_limited", 429),
    (e.CorruptDataError("a/b", "parts/x.parquet", "sha256 mismatch"), "corrupt_data", 502),
    (e.StoreUnavailable("s3://bucket", "timed out"), "store_unavailable", 503),
    (e.ServiceUnavailable("redis", "redis does not answer", retry_after=2), "unavailable", 503),
]


@pytest.mark.parametrize(("error", "code", "status"), CASES, ids=[c[1] for c in CASES])
def test_round_trip_keeps_type_message_hint_and_details(
    error: e.OpenDataError, code: str, status: int
) -> None:
    body = problem_from_error(error)
    assert (body.code, body.status) == (code, status)
    assert status_of(code) == status
    wire = msgspec.json.decode(msgspec.json.encode(body), type=ProblemDetails)
    back = error_from_problem(wire)
    assert type(back) is type(error)
    assert str(back) == str(error)
    assert back.hint == error.hint
    names = ("dataset_id", "close_matches", "column", "available", "retry_after", "key", "service")
    lifecycle = ("moved_to", "reason", "withdrawn_at", "citation", "note", "status", "action")
    for name in (*names, "version", "oldest_kept", "matches", *lifecycle):
        if hasattr(error, name):
            assert getattr(back, name) == getattr(error, name), name
    if isinstance(error, e.RangeOutsideCoverage):
        assert back.coverage == error.coverage  # type: ignore[attr-defined]
    if isinstance(error, e.ConflictError):
        assert back.publish_id == "p2"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("error", "code", "status"), CASES, ids=[c[1] for c in CASES])
def test_every_error_survives_pickling(error: e.OpenDataError, code: str, status: int) -> None:
    """A Dask worker's error reaches the caller pickled: same type, message, hint, attributes."""
    error.request_id = "req-1"
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert (str(back), back.args, back.hint) == (str(error), error.args, error.hint)
    assert back.__dict__ == error.__dict__


def test_every_error_class_has_a_code() -> None:
    classes = {cls for cls, _ in ERROR_CODES.values()}
    public = {
        getattr(e, n) for n in e.__all__ if n != "OpenDataError" and isinstance(getattr(e, n), type)
    }
    assert public <= classes, public - classes
    assert len(CASES) == len(ERROR_CODES)


def test_unknown_errors_are_internal_and_never_leak_their_text() -> None:
    body = problem_from_error(RuntimeError("password=hunter2"))
    assert body.code == "internal"
    assert body.status == 500
    assert "hunter2" not in msgspec.json.encode(body).decode()


def test_plain_opendata_error_is_a_bad_request_and_unknown_codes_map_to_the_base() -> None:
    assert problem_from_error(e.OpenDataError("start is after end")).status == 400
    err = error_from_problem(ProblemDetails(code="teapot", message="short and stout", status=418))
    assert type(err) is e.OpenDataError
    assert str(err) == "short and stout"


def test_metadata_findings_travel_under_their_name_and_the_old_key_is_still_read() -> None:
    two = [
        Finding(path="opendata.yaml", line=3, column=1, field="id", message="missing"),
        Finding(path="opendata.yaml", line=5, column=3, field="title", message="empty"),
    ]
    body = problem_from_error(e.MetadataError(two))
    assert body.details["findings"] == body.details["problems"] == msgspec.to_builtins(two)
    # A registry of the previous release sent the list under "problems" only.
    old = ProblemDetails(
        code=body.code,
        message=body.message,
        status=body.status,
        details={"problems": body.details["findings"]},
    )
    back = error_from_problem(old)
    assert isinstance(back, e.MetadataError)
    assert back.findings == two
