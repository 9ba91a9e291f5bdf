"""Renamed public names keep working for one release, with a DeprecationWarning (issue 22)."""

from __future__ import annotations

import pytest

import opendata_core
from opendata_core import errors as e
from opendata_core.metadata import check_metadata


def _finding() -> opendata_core.Finding:
    return opendata_core.Finding(path="opendata.yaml", line=1, column=1, field="id", message="x")


def test_problem_is_the_old_name_of_finding() -> None:
    with pytest.warns(DeprecationWarning, match=r"opendata_core\.Problem is deprecated: use "):
        old = opendata_core.Problem
    assert old is opendata_core.Finding
    assert "Problem" not in opendata_core.__all__


def test_metadata_error_problems_is_the_old_name_of_findings() -> None:
    error = e.MetadataError([_finding()])
    with pytest.warns(DeprecationWarning, match=r"use MetadataError\.findings"):
        assert error.problems == error.findings == [_finding()]


def test_metadata_report_problems_is_the_old_name_of_findings() -> None:
    report = check_metadata("/nonexistent/opendata.yaml")
    assert [f.message for f in report.findings] == ["file not found"]
    with pytest.warns(DeprecationWarning, match=r"use MetadataReport\.findings"):
        assert report.problems == report.findings


def test_unknown_attributes_still_raise() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = opendata_core.Nope  # type: ignore[attr-defined]
