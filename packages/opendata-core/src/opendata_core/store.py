"""The object-store interface the engine needs (implementations live in ``opendata-client``).

The client implements it for a local folder, for S3-compatible storage and, read-only, over a
registry's API. The registry service does not use it: it reads its bucket through its own
asynchronous store (``opendata_registry.infra.store``). Keys are ``/``-separated and relative to the
bucket.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = [
    "NotFound",
    "ObjectInfo",
    "ObjectTooLarge",
    "PreconditionFailed",
    "RangeNotSatisfiable",
    "Store",
]


class NotFound(KeyError):
    """The key does not exist (callers turn it into a user-facing error)."""


class ObjectTooLarge(Exception):
    """The object is larger than the caller allowed; it was not downloaded."""

    def __init__(self, key: str, size: int) -> None:
        super().__init__(f"{key} is {size:,} bytes")
        self.key = key
        self.size = size


class RangeNotSatisfiable(Exception):
    """A byte range starts past the end of the object (it is shorter than expected)."""


class PreconditionFailed(Exception):
    """A conditional write lost (the object exists, or its ETag changed)."""


@dataclass(frozen=True)
class ObjectInfo:
    """One listed object."""

    key: str
    size: int
    last_modified: datetime


@runtime_checkable
class Store(Protocol):
    """The operations the engine needs.

    Subclass it to inherit the defaults of :meth:`get_ranges`, :meth:`local_path`, :meth:`sign`
    and :meth:`temporaries`.
    """

    url: str
    """How the store is shown to users (``/path/to/folder``, ``s3://bucket``)."""

    @abstractmethod
    def get(self, key: str, *, max_bytes: int | None = None) -> tuple[bytes | memoryview, str]:
        """The object's bytes and its ETag; :class:`NotFound` when there is none.

        ``max_bytes``: raise :class:`ObjectTooLarge` without downloading an object whose size is
        larger, and never read more than that.
        """

    @abstractmethod
    def put(
        self, key: str, data: bytes, *, if_absent: bool = False, if_match: str | None = None
    ) -> str:
        """Write an object atomically and return its new ETag.

        ``if_absent``: fail with :class:`PreconditionFailed` if the key exists.
        ``if_match``: fail with :class:`PreconditionFailed` unless the current ETag equals it.
        """

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether the key exists."""

    @abstractmethod
    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete a key; a missing key is not an error."""

    @abstractmethod
    def uri(self, key: str) -> str:
        """A URL other tools can read the object from (``file://``, ``s3://``)."""

    def get_ranges(
        self, key: str, ranges: Sequence[tuple[int, int]]
    ) -> Sequence[bytes | memoryview]:
        """The bytes ``[start, end)`` of each range, fetched concurrently (one round trip).

        The default reads the whole object once; stores that can fetch ranges override it. A
        range past the end of the object comes back short (the caller's hashes catch it).
        """
        data, _ = self.get(key)
        return [memoryview(data)[a:b] for a, b in ranges]

    def local_path(self, key: str) -> Path | None:
        """The object's path when it is a local file (so it can be read in place)."""
        return None

    def sign(self, key: str, expires: timedelta) -> str:
        """A pre-signed HTTPS GET URL; only object stores that sign support it."""
        # Two statements: mypy reads a protocol method that only raises as abstract.
        message = f"{self.url} cannot sign URLs"
        raise NotImplementedError(message)

    def temporaries(self, prefix: str) -> Iterator[ObjectInfo]:
        """Leftovers of writes that never finished (a killed push), under ``prefix``.

        Object stores have none that a client can list cheaply: S3/R2 keep incomplete multipart
        uploads, which a bucket lifecycle rule aborts (see the producer guide).
        """
        return iter(())
