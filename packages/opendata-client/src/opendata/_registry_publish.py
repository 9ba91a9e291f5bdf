"""Publishing through a registry (registry part 2): signed uploads, then the registry's commit.

The shards are built exactly as for direct publishing (:class:`opendata._publish.Writer`);
this module only moves them: ``POST …/uploads`` with every shard's ``{sha256, bytes}``, a PUT of
each missing shard to its signed URL (straight to storage), then ``POST …/commit``. A 409 raises
:class:`~opendata_core.errors.ConflictError` (the publisher re-merges an append and retries); an
append is sent with ``mode: "append"`` so the registry rebases it onto a publish that committed
meanwhile instead (a 409 is then a true conflict: the same partition). A lost commit reply is
retried with the same ``publish_id`` (the registry answers ``already_committed``).

Credentials: inside GitHub Actions the job's OIDC token (``ACTIONS_ID_TOKEN_REQUEST_URL`` and
``_TOKEN``, with the audience the registry publishes at ``GET /v1/auth/github-oidc``), exchanged
for a short-lived publish token; elsewhere ``OPENDATA_PUBLISH_TOKEN`` (a producer token).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import quote

import msgspec

from opendata._config import settings
from opendata._registry import RegistryTransport, _dataset_path, _decode, _error_for
from opendata._results import Mode
from opendata_core.api import (
    CommitRequest,
    CommitResponse,
    OidcConfig,
    OidcExchange,
    PublishToken,
    RunPost,
    ShardUpload,
    UploadRequest,
    UploadResponse,
)
from opendata_core.documents import Manifest, RunRecord
from opendata_core.errors import OpenDataError, StoreUnavailable, Unauthenticated
from opendata_core.ids import DatasetId
from opendata_core.metadata import DatasetMetadata
from opendata_core.profile import Profile
from opendata_core.retry import attempts

__all__ = ["RegistryWriter"]

COMMIT_ATTEMPTS: Final = 4
"""Sends of one commit while its outcome stays unknown (transport error, 5xx)."""
_EXCHANGE_RETRIES: Final = 2
"""Exchanges retried, each with a new OIDC token, after a lost or failed reply."""
_NO_CREDENTIALS: Final = (
    "inside GitHub Actions give the job `permissions: id-token: write` (od deploy --registry "
    "writes it); elsewhere set OPENDATA_PUBLISH_TOKEN to a producer token from the registry's "
    "admin (opendata-registry tokens create …)"
)


class RegistryWriter:
    """Uploads shards and commits manifests through the registry that ``store`` talks to."""

    def __init__(self, store: RegistryTransport) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._token: str | None = None

    # -- credentials -----------------------------------------------------------------------------

    def token(self) -> str:
        """The publish token: the exchanged Actions OIDC token, else OPENDATA_PUBLISH_TOKEN."""
        with self._lock:
            if self._token is None:
                self._token = self._credentials()
            return self._token

    def check_credentials(self, ds: DatasetId) -> None:
        """Fail before any work or request when there is nothing to publish ``ds`` with."""
        s = settings()
        if not ((s.actions_token_url and s.actions_token) or s.publish_token):
            raise _unauthenticated(
                f"cannot publish {ds}: publishing through the registry {self.store.url} needs "
                "credentials: no GitHub Actions OIDC token (ACTIONS_ID_TOKEN_REQUEST_URL) and "
                "no OPENDATA_PUBLISH_TOKEN",
                hint=_NO_CREDENTIALS,
            )

    def _credentials(self) -> str:
        s = settings()
        if s.actions_token_url and s.actions_token:
            return self._exchange(s.actions_token_url, s.actions_token)
        if s.publish_token:
            return s.publish_token
        raise _unauthenticated(
            f"publishing through the registry {self.store.url} needs credentials: no GitHub "
            "Actions OIDC token (ACTIONS_ID_TOKEN_REQUEST_URL) and no OPENDATA_PUBLISH_TOKEN",
            hint=_NO_CREDENTIALS,
        )

    def _exchange(self, request_url: str, request_token: str) -> str:
        """A publish token for a fresh Actions OIDC token.

        The registry spends an OIDC token's ``jti`` when it exchanges it: if that reply is lost,
        sending the same token again is refused. So a lost or failed exchange is retried with a
        new OIDC token from Actions, never with the same one.
        """
        what = "GitHub OIDC exchange"
        config = _decode(self._call("GET", "/v1/auth/github-oidc", what=what), OidcConfig, what)
        for _ in range(_EXCHANGE_RETRIES):
            try:
                return self._exchange_once(request_url, request_token, config)
            except StoreUnavailable:
                continue  # the registry may have spent that token: ask Actions for another
        return self._exchange_once(request_url, request_token, config)

    def _exchange_once(self, request_url: str, request_token: str, config: OidcConfig) -> str:
        what = "GitHub OIDC exchange"
        body = msgspec.json.encode(
            OidcExchange(token=self._actions_token(request_url, request_token, config))
        )
        resp = self._call("POST", "/v1/auth/github-oidc", what=what, content=body, retry=False)
        return _decode(resp, PublishToken, what).token

    def _actions_token(self, request_url: str, request_token: str, config: OidcConfig) -> str:
        """A new OIDC token for the registry's audience from the Actions token endpoint."""
        sep = "&" if "?" in request_url else "?"
        resp = self.store._send(
            "GET",
            f"{request_url}{sep}audience={quote(config.audience, safe='')}",
            registry=False,
            what="GitHub Actions OIDC token",
            headers={"Authorization": f"Bearer {request_token}"},
        )
        if resp.status_code >= 400:
            raise _unauthenticated(
                f"GitHub refused the job's OIDC token (HTTP {resp.status_code})",
                hint=_NO_CREDENTIALS,
            )
        try:
            return str(msgspec.json.decode(resp.content, type=dict[str, Any])["value"])
        except (msgspec.DecodeError, msgspec.ValidationError, KeyError):
            raise _unauthenticated(
                "the Actions OIDC token endpoint answered without a `value`", hint=_NO_CREDENTIALS
            ) from None

    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        token: str | None = None,
        retry: bool = True,
        **kwargs: Any,
    ) -> Any:
        headers = {"Content-Type": "application/json"} if "content" in kwargs else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        resp = self.store._send(
            method,
            f"{self.store.url}{path}",
            registry=False,
            what=what,
            headers=headers,
            retry=retry,
            **kwargs,
        )
        if resp.status_code >= 400:
            raise _error_for(resp, what, self.store.url)
        return resp

    # -- publishing ------------------------------------------------------------------------------

    def authorize(self, ds: DatasetId) -> None:
        """Ask the registry whether these credentials may publish ``ds``; raise if refused.

        An upload request for no shard: the registry checks the token, the dataset's owner
        and its policy as for any upload, and signs nothing. A push whose data is unchanged
        commits nothing, so without this a refused publisher would never hear it.
        """
        self._call(
            "POST",
            f"{_dataset_path(ds)}/uploads",
            what=f"publish {ds}",
            token=self.token(),
            content=msgspec.json.encode(UploadRequest(shards=[])),
        )

    def upload(self, ds: DatasetId, shards: Sequence[tuple[str, memoryview]]) -> int:
        """Ask for signed URLs for ``(sha256, bytes)`` and PUT the missing ones; how many."""
        what = f"upload shards of {ds}"
        request = UploadRequest(
            shards=[ShardUpload(sha256=d, bytes=len(b)) for d, b in dict(shards).items()]
        )
        resp = self._call(
            "POST",
            f"{_dataset_path(ds)}/uploads",
            what=what,
            token=self.token(),
            content=msgspec.json.encode(request),
        )
        answer = _decode(resp, UploadResponse, what)
        data = dict(shards)
        for up in answer.uploads:
            put = self.store._send(
                "PUT",
                up.url,
                registry=False,
                what=f"{what}: PUT {up.path}",
                headers=up.headers,
                content=data[up.sha256].tobytes(),
            )
            if put.status_code >= 400:
                raise _error_for(put, f"{what}: PUT {up.path}", "the signed upload URL")
        return len(answer.uploads)

    def commit(
        self,
        ds: DatasetId,
        manifest: Manifest,
        previous: Manifest | None,
        meta: DatasetMetadata,
        preview: list[dict[str, Any]],
        readme: str,
        *,
        allow_schema_change: bool,
        mode: Mode = "replace",
        preview_head: list[dict[str, Any]] | None = None,
        profile: Profile | None = None,
    ) -> CommitResponse:
        """``POST …/commit``; the same commit again while the outcome is unknown.

        With ``mode="append"`` the registry rebases the append onto a publish that committed
        since ``previous`` (``CommitResponse.rebased_onto``); it answers ``409`` only when both
        wrote the same partition (or when it predates rebasing), and the publisher merges again.
        """
        what = f"commit {ds} {manifest.publish_id}"
        body = msgspec.json.encode(
            CommitRequest(
                parent_publish_id=previous.publish_id if previous else None,
                manifest=manifest,
                metadata=meta,
                preview=preview,
                preview_head=preview_head or [],
                profile=profile,
                readme=readme,
                schema_change="allow" if allow_schema_change else "refuse",
                mode=mode,
            )
        )
        failure: StoreUnavailable | None = None
        for _ in attempts(COMMIT_ATTEMPTS):
            try:
                resp = self._call(
                    "POST",
                    f"{_dataset_path(ds)}/commit",
                    what=what,
                    token=self.token(),
                    content=body,
                )
            except StoreUnavailable as exc:  # the commit may have happened: send it again
                failure = exc
                continue
            return _decode(resp, CommitResponse, what)
        raise StoreUnavailable(
            self.store.url,
            f"{what}: could not confirm whether it committed ({failure}); "
            f"check `od info {ds}` before publishing again",
        )

    def record_run(self, record: RunRecord) -> str:
        """``POST …/runs``: a run the commit did not record (a failure, an unchanged run)."""
        ds = DatasetId.parse(record.dataset_id)
        # Every field of RunPost is one of the record's (provenance comes from the token).
        post = RunPost(**{name: getattr(record, name) for name in RunPost.__struct_fields__})
        self._call(
            "POST",
            f"{_dataset_path(ds)}/runs",
            what=f"record a run of {ds}",
            token=self.token(),
            content=msgspec.json.encode(post),
        )
        return f"{self.store.url}{_dataset_path(ds)}/runs/{record.run_id}"


def _unauthenticated(message: str, *, hint: str) -> Unauthenticated:
    err = Unauthenticated(message)
    err.hint = hint
    return err


def require_metadata(ds: DatasetId, meta: DatasetMetadata | None) -> DatasetMetadata:
    """The registry's commit needs the dataset's metadata: the yaml, else the published one."""
    if meta is None:
        raise OpenDataError(
            f"publishing {ds} through the registry needs its metadata",
            hint="pass metadata='opendata.yaml' to push (od run and od push do)",
        )
    return meta
