"""The manifest of a read through a registry, and the last one it served when it cannot answer.

Every manifest a registry serves for a load is remembered in the local cache
(:meth:`~opendata._cache.Cache.remember`), once per version. When the registry cannot answer
(unreachable, or a 503 after its retries), a load whose shards are all in the cache still works
from the remembered manifest, with a :class:`UserWarning` that the data may be stale: a newer
version may have been published since. Shards missing from the cache still need the registry,
and fail with its error.
"""

from __future__ import annotations

import hashlib
import warnings
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from opendata_core.documents import Manifest, decode_document, encode_document
from opendata_core.errors import StoreUnavailable

if TYPE_CHECKING:
    from opendata._read import Pin, Reader
    from opendata._registry import RegistryTransport
    from opendata_core.ids import DatasetId

__all__ = ["registry_manifest"]


def _name(registry: RegistryTransport, ds: DatasetId, pin: Pin) -> str:
    version, as_of = pin
    key = "\n".join((registry.url, str(ds), version or "", str(as_of or "")))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def registry_manifest(
    reader: Reader, registry: RegistryTransport, ds: DatasetId, start: object, end: object, pin: Pin
) -> Manifest:
    """The manifest to read, from one ``download`` that also signs the shards of the range.

    When the registry cannot answer, the manifest it last served for this dataset and pin, if
    the cache holds one (with a warning); otherwise the registry's error.
    """
    name = _name(registry, ds, pin)
    try:
        body = registry.download(ds, start=start, end=end, version=pin[0], as_of=pin[1])
    except StoreUnavailable as exc:
        kept = reader.cache.recall(name)
        if kept is None:
            raise
        data, seen = kept
        manifest = decode_document(data, Manifest, name=f"{ds}/manifest.json")
        when = datetime.fromtimestamp(seen, UTC).strftime("%Y-%m-%d %H:%M UTC")
        warnings.warn(
            f"{exc.message}; loading {ds} version {manifest.publish_id} from the local cache "
            f"(last served by the registry at {when}): it may be stale, a newer version may "
            "have been published since",
            UserWarning,
            stacklevel=2,
        )
        return manifest
    reader.cache.remember(name, body.manifest.publish_id, encode_document(body.manifest))
    return body.manifest
