"""``opendata.yaml``: the producer's description of a dataset, its loader, checker and writer.

Example:
    >>> from opendata_core import load_metadata
    >>> meta = load_metadata("examples/ecb-euro-fx-rates/opendata.yaml")  # doctest: +SKIP
    >>> meta.id, meta.source.provider  # doctest: +SKIP
    ('ecb/euro-fx-rates', 'European Central Bank')
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import msgspec

from opendata_core._checker import (
    TITLE_MAX,
    TOP_FIELDS,
    Checker,
    check_document,
    check_registry_url,
    check_title,
    did_you_mean,
)
from opendata_core._findings import Finding
from opendata_core._schema import (
    FREQUENCIES,
    PARTITIONS,
    DatasetMetadata,
    Deprecation,
    Geo,
    MetadataReport,
    MetadataWarning,
    Partitioning,
    Retention,
    Source,
)
from opendata_core._yaml import dump_text, parse_text, plain, set_path, yaml_scalar
from opendata_core.errors import MetadataError
from opendata_core.files import write_atomic

__all__ = [
    "FREQUENCIES",
    "PARTITIONS",
    "TITLE_MAX",
    "DatasetMetadata",
    "Deprecation",
    "Geo",
    "MetadataReport",
    "MetadataWarning",
    "Partitioning",
    "Retention",
    "Source",
    "check_metadata",
    "check_registry_url",
    "check_title",
    "load_metadata",
    "update_metadata",
    "validate_metadata",
    "yaml_scalar",
]


def _report_from_text(text: str, display: str) -> MetadataReport:
    doc, findings = parse_text(text, display)
    if findings:
        return MetadataReport(display, None, errors=findings)
    if doc is None:
        return MetadataReport(
            display,
            None,
            errors=[
                Finding(
                    path=display,
                    line=1,
                    column=1,
                    field="",
                    message="the file is empty",
                    hint="run `od init` to write a commented template",
                )
            ],
        )
    checker = Checker(display, doc)
    data = check_document(checker, doc)
    meta = None
    if not checker.errors:
        meta = msgspec.convert(plain(data), DatasetMetadata)
    return MetadataReport(display, meta, errors=checker.errors, warnings=checker.warnings)


def check_metadata(path: str | os.PathLike[str]) -> MetadataReport:
    """Check an ``opendata.yaml`` file and report every error and warning, without raising.

    A missing or unreadable file is reported as an error too.
    """
    display = os.fspath(path)

    def unreadable(message: str, hint: str | None = None) -> MetadataReport:
        finding = Finding(
            path=display, line=None, column=None, field="", message=message, hint=hint
        )
        return MetadataReport(display, None, errors=[finding])

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return unreadable("file not found", "run `od init` to create opendata.yaml")
    except (OSError, UnicodeDecodeError) as exc:
        return unreadable(f"cannot read the file: {exc}")
    return _report_from_text(text, display)


def _raise_or_warn(report: MetadataReport, stacklevel: int) -> DatasetMetadata:
    if report.errors:
        raise MetadataError(report.errors)
    for w in report.warnings:
        warnings.warn(str(w), MetadataWarning, stacklevel=stacklevel + 1)
    assert report.metadata is not None
    return report.metadata


def load_metadata(path: str | os.PathLike[str]) -> DatasetMetadata:
    """Load and validate an ``opendata.yaml`` file.

    Warnings (e.g. a licence that is not an SPDX identifier) are issued as
    :class:`MetadataWarning` through :mod:`warnings`; :func:`check_metadata` returns them as data.

    Raises:
        MetadataError: for the first error, with ``.path``, ``.line``, ``.column``, ``.field``;
            ``.findings`` lists them all.
    """
    return _raise_or_warn(check_metadata(path), stacklevel=2)


def validate_metadata(
    value: DatasetMetadata | Mapping[str, Any], *, source: str = "<metadata>"
) -> DatasetMetadata:
    """Validate metadata built in Python (a :class:`DatasetMetadata` or a plain mapping).

    Applies the same rules as :func:`load_metadata`; findings have no line numbers.

    Raises:
        MetadataError: if any rule fails.
    """
    data = msgspec.to_builtins(value) if isinstance(value, msgspec.Struct) else value
    if isinstance(data, Mapping):
        data = {k: v for k, v in data.items() if v not in (None, [])}
    checker = Checker(source, data)
    out = check_document(checker, data)
    report = MetadataReport(source, None, errors=checker.errors, warnings=checker.warnings)
    if not report.errors:
        report.metadata = msgspec.convert(plain(out), DatasetMetadata)
    return _raise_or_warn(report, stacklevel=2)


def _iter_updates(updates: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for key, value in updates.items():
        if key.split(".")[0] not in TOP_FIELDS:
            hint = did_you_mean(key.split(".")[0], TOP_FIELDS)
            raise MetadataError(
                [
                    Finding(
                        path="<update>",
                        line=None,
                        column=None,
                        field=key,
                        message=f"unknown field {key!r}",
                        hint=hint,
                    )
                ]
            )
        yield key, value


def update_metadata(path: str | os.PathLike[str], updates: Mapping[str, Any]) -> DatasetMetadata:
    """Set fields of an ``opendata.yaml`` in place, keeping the user's comments and key order.

    Keys are dotted paths (``"source.homepage"``); a value of ``None`` removes the field. The
    result is validated before anything is written, and the file is replaced atomically, so a bad
    update leaves the file untouched.

    Example:
        >>> changes = {"title": "Euro FX rates", "geo.scope": "region"}
        >>> update_metadata("opendata.yaml", changes)  # doctest: +SKIP
    """
    target = Path(path)
    text = target.read_text(encoding="utf-8")
    doc, findings = parse_text(text, os.fspath(path))
    if findings:
        raise MetadataError(findings)
    from ruamel.yaml.comments import CommentedMap

    if not isinstance(doc, CommentedMap):
        doc = CommentedMap()
    for key, value in _iter_updates(updates):
        set_path(doc, key, value)
    new_text = dump_text(doc)
    meta = _raise_or_warn(_report_from_text(new_text, os.fspath(path)), stacklevel=2)
    write_atomic(target, new_text)
    return meta
