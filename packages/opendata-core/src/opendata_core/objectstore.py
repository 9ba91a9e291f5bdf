"""obstore, configured once: how the client and the registry open a bucket, and its errors.

Both packages reach S3, R2, MinIO and moto through obstore; this module is the one place that
decides the retry rule and timeouts, how a custom endpoint is addressed, and which error of
core's one set each obstore failure becomes:

::

    obstore failure                                     becomes
    not found (a key)                                   store.NotFound
    not found: NoSuchBucket                             errors.StoreUnavailable (reason "no-bucket")
    already exists, precondition failed                 store.PreconditionFailed
    permission denied, unauthenticated                  errors.PermissionDenied
    timeout / DNS / connect / any other store error     errors.StoreUnavailable ("timeout",
                                                        "unreachable" or no reason)
    a panic inside obstore's Rust code                  errors.StoreUnavailable

The registry turns ``PermissionDenied`` into ``StoreUnavailable`` (its own credentials were
refused: an outage for the caller, not a refusal of the caller).

obstore is the ``opendata-core[obstore]`` extra and is imported inside the functions, so the
rest of core stays importable without it (as :mod:`opendata_core.decoding` is behind
``[parquet]``, decision 0007).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from opendata_core.errors import OpenDataError, PermissionDenied, StoreUnavailable, first_line
from opendata_core.store import NotFound, PreconditionFailed

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig, S3Store

__all__ = ["CLIENT_OPTIONS", "RETRY_CONFIG", "s3_store", "store_error", "translated"]

RETRY_CONFIG: Final[RetryConfig] = {
    "max_retries": 3,
    "backoff": {
        "init_backoff": timedelta(milliseconds=100),
        "max_backoff": timedelta(seconds=2),
        "base": 2,
    },
    "retry_timeout": timedelta(seconds=20),
}
"""obstore retries transient failures itself (exponential backoff); bounded so that a dead
endpoint fails a load, a sync or a readiness check in seconds, not minutes (at most 3 retries
within 20 s)."""
CLIENT_OPTIONS: Final[ClientConfig] = {"connect_timeout": "5s", "timeout": "60s"}
"""Per request: 5 s to connect, 60 s for the whole request (a large shard on a slow link)."""


def s3_store(
    bucket: str,
    *,
    endpoint: str | None = None,
    region: str | None = None,
    retry_config: RetryConfig | None = None,
    client_options: ClientConfig | None = None,
    **config: Any,
) -> S3Store:
    """An :class:`obstore.store.S3Store` on ``bucket`` with the retry rule and timeouts above.

    A custom ``endpoint`` (R2, MinIO, moto) is addressed path-style, and an ``http://`` one is
    allowed. ``region=""`` (``AWS_REGION`` set but empty, e.g. an unset CI secret) means S3's
    default region: obstore would otherwise build an invalid URL from it and panic. ``config``
    goes to obstore unchanged (the standard ``AWS_*`` variables apply as obstore reads them).
    """
    from obstore.store import S3Store

    options: ClientConfig = {**CLIENT_OPTIONS, **(client_options or {})}
    kwargs: dict[str, Any] = dict(config)
    if endpoint:
        kwargs["endpoint"] = endpoint
        kwargs.setdefault("virtual_hosted_style_request", False)
        if endpoint.startswith("http://"):
            options["allow_http"] = True
    if region:
        kwargs["region"] = region
    elif region == "":
        kwargs["region"] = "us-east-1"
    return S3Store(
        bucket, client_options=options, retry_config=retry_config or RETRY_CONFIG, **kwargs
    )


def store_error(
    exc: BaseException, *, url: str, key: str, endpoint: str, bucket: str | None = None
) -> Exception | None:
    """The error of core's set (table above) that ``exc`` from obstore means, else ``None``.

    Args:
        exc: What obstore raised.
        url: The store as users see it (``s3://bucket``), for the messages.
        key: The key the failed operation was about.
        endpoint: How messages name the server (``http://127.0.0.1:9000``, ``AWS S3``).
        bucket: The bucket's name, for the no-bucket and permission messages.
    """
    from obstore import exceptions as e

    if isinstance(exc, OpenDataError):
        return None  # already one of ours (PermissionDenied is also a PermissionError)
    where = f"the bucket {bucket!r}" if bucket else url
    # obstore raises the builtin FileNotFoundError/FileExistsError/PermissionError for some of its
    # errors and its own classes for others: both spellings are caught.
    if isinstance(exc, e.NotFoundError | FileNotFoundError):
        if "NoSuchBucket" in str(exc):
            return StoreUnavailable(
                url,
                f"{where} does not exist at {endpoint}",
                hint="create the bucket, or fix its name in OPENDATA_STORE (s3://BUCKET/...)",
                reason="no-bucket",
            )
        return NotFound(key)
    if isinstance(exc, e.AlreadyExistsError | e.PreconditionError | FileExistsError):
        return PreconditionFailed(key)
    if isinstance(exc, e.PermissionDeniedError | e.UnauthenticatedError | PermissionError):
        return PermissionDenied(
            f"{url} ({endpoint}) refused access to {key}: {first_line(exc)}",
            hint="check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (for R2: an R2 API "
            f"token's): they must be valid and allowed to use {where}",
        )
    if isinstance(exc, e.BaseError | OSError):
        return _unavailable(exc, url=url, key=key, endpoint=endpoint)
    # A Rust panic inside obstore arrives as pyo3's PanicException (a BaseException).
    if type(exc).__name__ == "PanicException":
        return StoreUnavailable(url, f"{key}: the S3 client failed: {first_line(exc)}")
    return None


def _unavailable(exc: BaseException, *, url: str, key: str, endpoint: str) -> StoreUnavailable:
    """Say what obstore's "HTTP error: error sending request" meant, and the fix."""
    text = str(exc)
    fix_endpoint = "check AWS_ENDPOINT_URL (or R2_ACCOUNT_ID for r2://) and your network"
    if "kind: Timeout" in text or "TimedOut" in text:
        return StoreUnavailable(
            url,
            f"{key}: {endpoint} did not answer in time (the request timed out, and so did its "
            "retries)",
            hint="the store is slow or unreachable; try again later",
            reason="timeout",
        )
    if "dns error" in text:
        return StoreUnavailable(
            url,
            f"cannot find the endpoint {endpoint} (DNS lookup failed)",
            hint=fix_endpoint,
            reason="unreachable",
        )
    if "kind: Connect" in text:
        return StoreUnavailable(
            url,
            f"cannot connect to the endpoint {endpoint} (nothing answers there)",
            hint=fix_endpoint,
            reason="unreachable",
        )
    return StoreUnavailable(url, f"{key}: {first_line(exc)}")


@contextlib.contextmanager
def translated(*, url: str, key: str, endpoint: str, bucket: str | None = None) -> Iterator[None]:
    """Raise :func:`store_error`'s translation of any obstore failure inside the block.

    Works around synchronous and asynchronous calls alike
    (``with translated(...): return await obstore.get_async(...)``); anything that is not an
    obstore failure passes through unchanged.
    """
    try:
        yield
    except BaseException as exc:
        error = store_error(exc, url=url, key=key, endpoint=endpoint, bucket=bucket)
        if error is None:
            raise
        raise error from None
