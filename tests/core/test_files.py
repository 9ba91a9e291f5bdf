"""One atomic write for every local file OpenData replaces."""

from __future__ import annotations

from pathlib import Path

import pytest

from opendata_core.files import atomic_writer, write_atomic


def test_write_atomic_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "opendata.yaml"
    target.parent.mkdir()
    write_atomic(target, "id: a/b\n")
    write_atomic(target, b"id: c/d\n")
    assert target.read_text() == "id: c/d\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["opendata.yaml"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"
    target.write_bytes(b"old")

    def killed_write() -> None:
        with atomic_writer(target) as fh:
            fh.write(b"half of the new")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        killed_write()
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]


def test_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "missing" / "x.csv", b"")
