"""Publishing endpoints: the OIDC exchange, uploads, commit, run records, local-store PUTs."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from typing import Annotated, Any, Final

import anyio
from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import (
    FromPath,
    FromQuery,
    JSONBody,
    QueryParameter,
)

from opendata_core.api import (
    CommitRequest,
    CommitResponse,
    OidcConfig,
    OidcExchange,
    PublishToken,
    RunPost,
    RunSummary,
    UploadRequest,
    UploadResponse,
)
from opendata_core.errors import FormatError, PermissionDenied
from opendata_registry.domain.publishing.auth import Publishing
from opendata_registry.domain.publishing.services import PublishService, put_method
from opendata_registry.infra.errors import error_responses
from opendata_registry.infra.headers import base_url
from opendata_registry.infra.identity import Publisher
from opendata_registry.infra.params import Name, Namespace
from opendata_registry.infra.settings import Settings
from opendata_registry.infra.signing import UrlSigner, parse_decimal
from opendata_registry.infra.store import RegistryStore

__all__ = ["AuthController", "PublishController", "UploadController"]

_SHARD_KEY: Final = re.compile(r"(?:.+/)?datasets/[^/]+/[^/]+/parts/([0-9a-f]{64})\.parquet")


class AuthController(Controller):
    """Trusted publishing: GitHub Actions OIDC tokens for short-lived publish tokens."""

    path = "/v1/auth"
    tags = ["publishing"]  # noqa: RUF012 - Litestar's declared type

    @get("/github-oidc", summary="What to ask GitHub for", responses=error_responses(429))
    async def oidc_config(self, settings: NamedDependency[Settings]) -> OidcConfig:
        """The issuer this registry trusts and the audience a token must carry."""
        return OidcConfig(issuer=settings.oidc_issuer, audience=settings.audience)

    @post(
        "/github-oidc",
        summary="Exchange a GitHub Actions OIDC token",
        status_code=200,
        responses=error_responses(401, 429, 503),
    )
    async def exchange(
        self, publishing: NamedDependency[Publishing], data: JSONBody[OidcExchange]
    ) -> PublishToken:
        """A publish token (≤ 15 minutes) for the datasets of the token's repository."""
        return await publishing.exchange(data.token)


class PublishController(Controller):
    """Uploads, commits and run records under ``/v1/datasets`` (publish tokens only).

    It shares ``…/runs`` with the catalogue's ``DatasetController`` (``GET`` there, ``POST``
    here), and Litestar gives each controller's paths their own ``OPTIONS`` handler, so the app
    joins the two into one controller (``app.py``); neither knows the other.
    """

    path = "/v1/datasets"

    @post(
        "/{namespace:str}/{name:str}/uploads",
        summary="Signed upload URLs",
        status_code=200,
        responses=error_responses(401, 403, 422, 429, 503),
        tags=["publishing"],
    )
    async def uploads(
        self,
        request: Request[Any, Any, Any],
        publish: NamedDependency[PublishService],
        publisher: NamedDependency[Publisher],
        namespace: Namespace,
        name: Name,
        data: JSONBody[UploadRequest],
    ) -> UploadResponse:
        """Pre-signed PUT URLs for the shards the live manifest does not list."""
        dataset_id = f"{namespace}/{name}"
        return await publish.uploads(publisher, dataset_id, data, base_url(request.scope))

    @post(
        "/{namespace:str}/{name:str}/commit",
        summary="Commit a publish",
        status_code=200,
        responses=error_responses(401, 403, 409, 422, 429, 503),
        tags=["publishing"],
    )
    async def commit(
        self,
        publish: NamedDependency[PublishService],
        publisher: NamedDependency[Publisher],
        namespace: Namespace,
        name: Name,
        data: JSONBody[CommitRequest],
    ) -> CommitResponse:
        """Verify the shards, apply the schema gate and write manifest.json conditionally."""
        return await publish.commit(publisher, f"{namespace}/{name}", data)

    @post(
        "/{namespace:str}/{name:str}/runs",
        summary="Record a run",
        status_code=201,
        responses=error_responses(401, 403, 422, 429, 503),
        tags=["publishing"],
    )
    async def record_run(
        self,
        publish: NamedDependency[PublishService],
        publisher: NamedDependency[Publisher],
        namespace: Namespace,
        name: Name,
        data: JSONBody[RunPost],
    ) -> RunSummary:
        """Write a run record (failures too, with their error class) for the dataset's health."""
        return await publish.record_run(publisher, f"{namespace}/{name}", data)


class UploadController(Controller):
    """Signed shard uploads into a local folder store (``PUT /files/…``).

    S3/R2 upload URLs point at the bucket itself. Joined with the downloads' ``FilesController``
    in the app, for the reason given at :class:`PublishController`.
    """

    path = "/files"

    @put(
        "/{key:path}",
        summary="A signed upload (local store)",
        status_code=200,
        responses=error_responses(403, 422),
        tags=["publishing"],
        request_max_body_size=None,  # bounded by the signed size below
    )
    async def upload(
        self,
        request: Request[Any, Any, Any],
        store: NamedDependency[RegistryStore],
        signer: NamedDependency[UrlSigner],
        key: FromPath[str],
        expires: FromQuery[str | None] = None,
        signature: FromQuery[str | None] = None,
        size: Annotated[str | None, QueryParameter(name="bytes", max_length=20)] = None,
    ) -> Response[Any]:
        """Store the body under ``key`` when the URL is valid and the bytes are the signed ones.

        The signature binds the key (which names the shard's sha256), the size and the expiry;
        the bytes are hashed as they arrive and kept only when size and sha256 match.
        """
        key = key.lstrip("/")
        expected = parse_decimal(size, max_digits=15)
        if expected is None:
            raise PermissionDenied("this upload URL is not valid (no signed size)")
        if not signer.verify(put_method(expected), key, expires, signature):
            raise PermissionDenied(
                "this upload URL is not valid for this object, or it has expired; ask the "
                "registry for a new one (POST /v1/datasets/{ns}/{name}/uploads)"
            )
        match = _SHARD_KEY.fullmatch(key)
        if store.root is None or match is None or not key.startswith(store.layout.datasets_root()):
            raise PermissionDenied("uploads go only to a dataset's parts/ folder")
        content_length = request.headers.get("content-length")
        announced = parse_decimal(content_length, max_digits=20)
        if announced is not None and announced != expected:
            raise FormatError(
                f"the body has {content_length} bytes; this URL is for exactly {expected}",
                document="upload",
                field="Content-Length",
            )
        try:
            path = store.local_path(key)
        except ValueError:
            raise PermissionDenied("uploads go only to a dataset's parts/ folder") from None
        await anyio.to_thread.run_sync(lambda: path.parent.mkdir(parents=True, exist_ok=True))
        tmp = path.with_name(f".tmp-{secrets.token_hex(8)}")
        digest, received = hashlib.sha256(), 0
        try:
            with open(tmp, "wb") as fh:
                async for chunk in request.stream():
                    received += len(chunk)
                    if received > expected:
                        raise FormatError(
                            f"the body is longer than the {expected} bytes this URL is for",
                            document="upload",
                            field="body",
                        )
                    digest.update(chunk)
                    fh.write(chunk)
            if received != expected or digest.hexdigest() != match[1]:
                raise FormatError(
                    f"the body ({received} bytes) is not the shard this URL is for "
                    f"({expected} bytes, sha256 {match[1][:12]}…); nothing was stored",
                    document="upload",
                    field="body",
                )
            await anyio.to_thread.run_sync(os.replace, tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return Response(content=b"", status_code=200, headers={"ETag": f'"{match[1]}"'})
