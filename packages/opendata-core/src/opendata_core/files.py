"""Atomic file writes: the one way OpenData replaces a local file.

The bytes go to a temporary file beside the target, which then replaces it in one rename: a
reader sees the old file or the new one, never half of one, and a killed write leaves only a
``.<name>.*.tmp`` file. The file gets the permissions any other tool's output would: those of
the file it replaces, else 0666 less the process's umask (a temporary file is created 0600).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_writer", "new_file_mode", "write_atomic"]


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows (``/proc``)."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        with open("/proc/self/status", encoding="ascii") as fh:
            line = next(line for line in fh if line.startswith("Umask:"))
        return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: set and restore (a brief change)
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode ``open()`` would give a new file: 0666 less the umask (0644 under umask 022)."""
    return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file that replaces ``path`` when the block ends without an error.

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.bin"
        >>> with atomic_writer(target) as fh:
        ...     _ = fh.write(b"data")
        >>> target.read_bytes()
        b'data'
    """
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():  # named here: mkstemp's error would name the temporary file
        raise FileNotFoundError(f"cannot write {target}: the folder {folder} does not exist")
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except OSError:
        mode = new_file_mode()
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:  # named by the target: the temporary file means nothing to a reader
        raise type(exc)(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8, line ends as given)."""
    with atomic_writer(path) as fh:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)
