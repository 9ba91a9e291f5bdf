"""The registry's settings: built once from the environment and injected (the only env reader).

=================================== ==============================================================
variable                            meaning (default)
=================================== ==============================================================
``OPENDATA_HOME``                   the user directory (``~/.local/share/opendata`` on Linux)
``OPENDATA_STORE``                  the bucket to serve: a folder, ``file:///path``,
                                    ``s3://bucket/prefix`` or ``r2://bucket/prefix``
                                    (``$OPENDATA_HOME/store``, the client's default)
``OPENDATA_REGISTRY_DATABASE_URL``  SQLAlchemy async URL (``sqlite+aiosqlite:///`` a file under
                                    ``$OPENDATA_HOME/registry/``); ``postgresql+asyncpg://…`` for
                                    several replicas
``OPENDATA_REGISTRY_DATABASE_SCHEMA`` PostgreSQL: keep the tables in this schema (none: the
                                    connection's default)
``OPENDATA_REGISTRY_REDIS_URL``     ``redis://…``: rate-limit budgets shared by replicas (none:
                                    in memory, per process)
``OPENDATA_REGISTRY_REDIS_PREFIX``  key prefix in Redis (``opendata``)
``OPENDATA_REGISTRY_REDIS_TIMEOUT`` seconds a Redis connect or command may take before Redis
                                    counts as down (0.5)
``OPENDATA_REGISTRY_LIMITS_FAIL_OPEN`` ``1``: while Redis is down, count limits in each
                                    process's memory (default: refuse with 503 ``unavailable``)
``OPENDATA_REGISTRY_AUTH_FAILURES_PER_ADDRESS`` failed authentications a client address may
                                    make per minute before it gets 429 (20; 0: no limit)
``OPENDATA_REGISTRY_AUTH_FAILURES_PER_KEY`` failed authentications per minute with one key or
                                    token prefix before it gets 429 (60; 0: no limit)
``OPENDATA_REGISTRY_READY_TIMEOUT`` seconds ``/readyz`` waits for each dependency (2)
``OPENDATA_REGISTRY_SECRET``        the HMAC key for local-store download URLs (none: a random
                                    key kept in ``$OPENDATA_HOME/registry/secret``; replicas must
                                    share one)
``OPENDATA_REGISTRY_TIERS``         JSON overriding tier limits, e.g.
                                    ``{"free": {"requests_per_minute": 120}}``
``OPENDATA_REGISTRY_SYNC_INTERVAL`` seconds between catalogue syncs while serving (60; 0: never)
``OPENDATA_REGISTRY_SNAPSHOT_INTERVAL`` seconds between catalogue snapshots while serving, written
only when the catalogue changed (3600; 0: never)
``OPENDATA_REGISTRY_PUBLIC_URL``    the registry's public base URL, for the URLs it hands out
                                    (none: taken from each request)
``OPENDATA_REGISTRY_TRUST_PROXY``   ``1``: take the client IP from ``X-Forwarded-For`` (only
                                    behind a load balancer that sets it)
``OPENDATA_REGISTRY_ACCESS_LOG``    ``0``: no access log line per request (``1``, the default: one
                                    JSON line each on stderr; the operator guide shows it)
``OPENDATA_REGISTRY_STALE_GRACE_HOURS`` hours added to a dataset's frequency before it is stale
                                    (48)
``OPENDATA_REGISTRY_OIDC_ISSUER``   the trusted OIDC issuer
                                    (``https://token.actions.githubusercontent.com``)
``OPENDATA_REGISTRY_OIDC_JWKS_URL`` where its signing keys are (``<issuer>/.well-known/jwks``)
``OPENDATA_REGISTRY_OIDC_AUDIENCE`` the ``aud`` a token must carry (the public URL, else
                                    ``opendata-registry``)
``OPENDATA_REGISTRY_PUBLISH_TOKEN_MINUTES`` lifetime of a publish token (15, at most 15)
``OPENDATA_REGISTRY_GATEWAY_URL``   the edge gateway (``packages/opendata-worker``): downloads
                                    answer with links to it instead of store URLs (none: off)
``OPENDATA_REGISTRY_GATEWAY_KEY_ID`` the id of the secret shared with the gateway (its Worker
                                    secret is ``SIGNING_KEY_<id>``; rotation: a new id)
``OPENDATA_REGISTRY_GATEWAY_SECRET`` that secret (at least 32 characters)
``OPENDATA_REGISTRY_MAX_DECODE_BYTES`` the most bytes a new shard may decode to at commit
                                    (8 GiB, the client's default); a larger one is refused
``OPENDATA_REGISTRY_DECODE_FLOOR``  bytes any shard may decode to whatever its size (1 GiB)
``OPENDATA_REGISTRY_DECODE_RATIO``  ... plus this many times its stored size (1000): the
                                    decoded-to-stored ratio check (decision 0007)
``AWS_ENDPOINT_URL``, ``AWS_REGION`` the S3 endpoint and region (other ``AWS_*`` variables, such
                                    as the keys, are read by obstore itself)
``R2_ACCOUNT_ID``                   with ``r2://``: the Cloudflare account
=================================== ==============================================================
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Final

import msgspec

from opendata_core.api import TierLimits
from opendata_core.errors import OpenDataError
from opendata_core.gateway import KEY_ID_PATTERN

__all__ = ["ANONYMOUS", "DEFAULT_TIERS", "GITHUB_ISSUER", "TIERS", "GatewaySettings", "Settings"]

TIERS: Final = ("free", "pro", "enterprise")
"""The tiers an API key can have."""
GITHUB_ISSUER: Final = "https://token.actions.githubusercontent.com"
"""The issuer of GitHub Actions OIDC tokens."""
ANONYMOUS: Final = "anonymous"
"""The limits for callers without a key (counted per IP address)."""

_GIB = 1024**3
DEFAULT_TIERS: Final[dict[str, TierLimits]] = {
    ANONYMOUS: TierLimits(
        name=ANONYMOUS,
        requests_per_minute=60,
        download_bytes_per_day=2 * _GIB,
        url_expiry_minutes=5,
        max_page_size=50,
    ),
    "free": TierLimits(
        name="free",
        requests_per_minute=300,
        download_bytes_per_day=10 * _GIB,
        url_expiry_minutes=15,
        max_page_size=100,
    ),
    "pro": TierLimits(
        name="pro",
        requests_per_minute=3000,
        download_bytes_per_day=500 * _GIB,
        url_expiry_minutes=60,
        max_page_size=500,
    ),
    "enterprise": TierLimits(
        name="enterprise",
        requests_per_minute=30000,
        download_bytes_per_day=20_000 * _GIB,
        url_expiry_minutes=240,
        max_page_size=1000,
    ),
}


def _default_home() -> Path:
    # The client's default (platformdirs' user data dir) without importing platformdirs.
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "opendata"


@dataclass(frozen=True)
class Settings:
    """Everything the registry is configured with. Build with :meth:`from_env` or directly.

    Example:
        >>> s = Settings.from_env({"OPENDATA_HOME": "/tmp/od"}, persist_secret=False)
        >>> s.store, s.database_url
        ('/tmp/od/store', 'sqlite+aiosqlite:////tmp/od/registry/registry.db')
    """

    home: Path
    store: str
    database_url: str
    secret: bytes = field(repr=False)
    database_schema: str | None = None
    redis_url: str | None = field(default=None, repr=False)
    redis_prefix: str = "opendata"
    redis_timeout: float = 0.5
    """Seconds a Redis connect or command may take before Redis counts as down."""
    limits_fail_open: bool = False
    """While Redis is down: count limits in each process's memory, instead of answering 503."""
    auth_failures_per_address: int = 20
    """Failed authentications per minute from one client address before 429 (0: no limit)."""
    auth_failures_per_key: int = 60
    """Failed authentications per minute with one key or token prefix before 429 (0: none)."""
    ready_timeout: float = 2.0
    """Seconds ``/readyz`` waits for each dependency."""
    tiers: Mapping[str, TierLimits] = field(default_factory=lambda: dict(DEFAULT_TIERS))
    sync_interval: float = 60.0
    snapshot_interval: float = 3600.0
    """Seconds between catalogue snapshots while serving (written only if the catalogue changed)."""
    public_url: str | None = None
    trust_proxy: bool = False
    access_log: bool = True
    """One JSON line per request on the ``opendata_registry.access`` logger."""
    stale_grace: timedelta = timedelta(hours=48)
    health_runs: int = 10
    """How many recent runs health looks at."""
    aws_endpoint_url: str | None = None
    aws_region: str | None = None
    r2_account_id: str | None = None
    oidc_issuer: str = GITHUB_ISSUER
    oidc_jwks_url: str | None = None
    """Default: ``<oidc_issuer>/.well-known/jwks`` (GitHub's)."""
    oidc_audience: str | None = None
    """Default: ``public_url``, else ``opendata-registry``."""
    oidc_leeway: timedelta = timedelta(seconds=30)
    publish_token_lifetime: timedelta = timedelta(minutes=15)
    publish_tier: str = "free"
    """The tier whose ``max_shard_bytes`` applies to producers."""
    gateway: GatewaySettings | None = None
    """The edge gateway downloads link to (``OPENDATA_REGISTRY_GATEWAY_*``); none: off."""
    max_decode_bytes: int = 8 << 30
    """A new shard decoding past this is refused at commit (``…_MAX_DECODE_BYTES``)."""
    decode_floor: int = 1 << 30
    """Bytes any shard may decode to (``OPENDATA_REGISTRY_DECODE_FLOOR``)."""
    decode_ratio: int = 1000
    """... plus this many times its size (``OPENDATA_REGISTRY_DECODE_RATIO``)."""
    export_max_bytes: int = 64 << 20
    """The most Parquet bytes one CSV or Parquet export reads (``…_EXPORT_MAX_BYTES``; 0: off)."""

    @property
    def audience(self) -> str:
        """The ``aud`` an OIDC token must carry to be exchanged here."""
        return self.oidc_audience or self.public_url or "opendata-registry"

    @property
    def jwks_url(self) -> str:
        """The issuer's JWKS document."""
        return self.oidc_jwks_url or f"{self.oidc_issuer.rstrip('/')}/.well-known/jwks"

    def tier(self, name: str) -> TierLimits:
        """The limits of a tier (unknown names get the anonymous limits)."""
        return self.tiers.get(name) or self.tiers[ANONYMOUS]

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, persist_secret: bool = True
    ) -> Settings:
        """Read the settings from ``environ`` (default: ``os.environ``).

        Raises:
            OpenDataError: a variable has a value that cannot be used; the message names it.
        """
        env = os.environ if environ is None else environ
        home = Path(env["OPENDATA_HOME"]).expanduser() if env.get("OPENDATA_HOME") else None
        home = home or _default_home()
        registry_dir = home / "registry"
        database_url = env.get("OPENDATA_REGISTRY_DATABASE_URL") or (
            f"sqlite+aiosqlite:///{registry_dir / 'registry.db'}"
        )
        secret_text = env.get("OPENDATA_REGISTRY_SECRET")
        if secret_text:
            if len(secret_text) < 32:
                raise OpenDataError(
                    "OPENDATA_REGISTRY_SECRET is too short (fewer than 32 characters)",
                    hint="generate one: python -c 'import secrets; print(secrets.token_hex(32))'",
                )
            secret = secret_text.encode()
        elif persist_secret:
            secret = _stored_secret(registry_dir / "secret")
        else:
            secret = secrets.token_bytes(32)
        region = env.get("AWS_REGION", env.get("AWS_DEFAULT_REGION"))
        return cls(
            home=home,
            store=env.get("OPENDATA_STORE") or str(home / "store"),
            database_url=database_url,
            secret=secret,
            database_schema=env.get("OPENDATA_REGISTRY_DATABASE_SCHEMA") or None,
            redis_url=env.get("OPENDATA_REGISTRY_REDIS_URL") or None,
            redis_prefix=env.get("OPENDATA_REGISTRY_REDIS_PREFIX") or "opendata",
            redis_timeout=_positive(env, "OPENDATA_REGISTRY_REDIS_TIMEOUT", 0.5),
            limits_fail_open=_flag(env, "OPENDATA_REGISTRY_LIMITS_FAIL_OPEN"),
            auth_failures_per_address=int(
                _number(env, "OPENDATA_REGISTRY_AUTH_FAILURES_PER_ADDRESS", 20)
            ),
            auth_failures_per_key=int(_number(env, "OPENDATA_REGISTRY_AUTH_FAILURES_PER_KEY", 60)),
            ready_timeout=_positive(env, "OPENDATA_REGISTRY_READY_TIMEOUT", 2.0),
            tiers=_tiers(env.get("OPENDATA_REGISTRY_TIERS")),
            sync_interval=_number(env, "OPENDATA_REGISTRY_SYNC_INTERVAL", 60.0),
            snapshot_interval=_number(env, "OPENDATA_REGISTRY_SNAPSHOT_INTERVAL", 3600.0),
            public_url=(env.get("OPENDATA_REGISTRY_PUBLIC_URL") or "").rstrip("/") or None,
            trust_proxy=env.get("OPENDATA_REGISTRY_TRUST_PROXY") == "1",
            access_log=_flag(env, "OPENDATA_REGISTRY_ACCESS_LOG", default=True),
            stale_grace=timedelta(hours=_number(env, "OPENDATA_REGISTRY_STALE_GRACE_HOURS", 48)),
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL") or env.get("AWS_ENDPOINT") or None,
            aws_region=region,
            r2_account_id=env.get("R2_ACCOUNT_ID") or None,
            oidc_issuer=(env.get("OPENDATA_REGISTRY_OIDC_ISSUER") or GITHUB_ISSUER).rstrip("/"),
            oidc_jwks_url=env.get("OPENDATA_REGISTRY_OIDC_JWKS_URL") or None,
            oidc_audience=env.get("OPENDATA_REGISTRY_OIDC_AUDIENCE") or None,
            publish_token_lifetime=timedelta(
                minutes=min(15.0, _number(env, "OPENDATA_REGISTRY_PUBLISH_TOKEN_MINUTES", 15))
            ),
            gateway=GatewaySettings.from_env(env),
            max_decode_bytes=int(_number(env, "OPENDATA_REGISTRY_MAX_DECODE_BYTES", 8 << 30)),
            decode_floor=int(_number(env, "OPENDATA_REGISTRY_DECODE_FLOOR", 1 << 30)),
            decode_ratio=int(_number(env, "OPENDATA_REGISTRY_DECODE_RATIO", 1000)),
            export_max_bytes=int(_number(env, "OPENDATA_REGISTRY_EXPORT_MAX_BYTES", 64 << 20)),
        )


@dataclass(frozen=True)
class GatewaySettings:
    """The edge gateway: where its links point and the secret (with its id) that signs them.

    Example:
        >>> g = GatewaySettings.from_env({
        ...     "OPENDATA_REGISTRY_GATEWAY_URL": "https://gw.example.org/",
        ...     "OPENDATA_REGISTRY_GATEWAY_KEY_ID": "k1",
        ...     "OPENDATA_REGISTRY_GATEWAY_SECRET": "s" * 32,
        ... })
        >>> g.url, g.key_id, g
        ('https://gw.example.org', 'k1', GatewaySettings(url='https://gw.example.org', key_id='k1'))
    """

    url: str
    key_id: str
    secret: bytes = field(repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GatewaySettings | None:
        """The gateway of ``env``, or None when ``OPENDATA_REGISTRY_GATEWAY_URL`` is unset.

        Raises:
            OpenDataError: a gateway variable is missing or unusable; the message names it.
        """
        url = (env.get("OPENDATA_REGISTRY_GATEWAY_URL") or "").rstrip("/")
        if not url:
            return None
        if not url.startswith(("https://", "http://")) or "?" in url or "#" in url:
            raise OpenDataError(
                f"OPENDATA_REGISTRY_GATEWAY_URL={url!r} is not an http(s) base URL",
                hint="e.g. OPENDATA_REGISTRY_GATEWAY_URL=https://data-gw.example.org",
            )
        key_id = env.get("OPENDATA_REGISTRY_GATEWAY_KEY_ID") or ""
        if not KEY_ID_PATTERN.fullmatch(key_id):
            raise OpenDataError(
                f"OPENDATA_REGISTRY_GATEWAY_KEY_ID={key_id!r} is not 1-32 letters, digits or '_'",
                hint="name the shared secret, e.g. OPENDATA_REGISTRY_GATEWAY_KEY_ID=k2026_12 "
                "(the Worker holds it as the secret SIGNING_KEY_k2026_12)",
            )
        secret = env.get("OPENDATA_REGISTRY_GATEWAY_SECRET") or ""
        if len(secret) < 32:
            raise OpenDataError(
                "OPENDATA_REGISTRY_GATEWAY_SECRET is missing or shorter than 32 characters "
                "(it is required with OPENDATA_REGISTRY_GATEWAY_URL)",
                hint="generate one: python -c 'import secrets; print(secrets.token_hex(32))'",
            )
        return cls(url=url, key_id=key_id, secret=secret.encode())


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise OpenDataError(
            f"{name}={text!r} is not a non-negative number", hint=f"e.g. {name}={default:g}"
        )
    return value


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    value = _number(env, name, default)
    if value == 0:
        raise OpenDataError(
            f"{name}=0: a timeout must be positive", hint=f"e.g. {name}={default:g}"
        )
    return value


def _flag(env: Mapping[str, str], name: str, *, default: bool = False) -> bool:
    text = env.get(name, "").strip().lower()
    if not text:
        return default
    if text in ("0", "false", "no"):
        return False
    if text in ("1", "true", "yes"):
        return True
    raise OpenDataError(f"{name}={env[name]!r} is not 1 or 0", hint=f"e.g. {name}=1")


def _tiers(text: str | None) -> dict[str, TierLimits]:
    tiers = dict(DEFAULT_TIERS)
    if not text:
        return tiers
    try:
        overrides = msgspec.json.decode(text, type=dict[str, dict[str, int]])
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise OpenDataError(
            f"OPENDATA_REGISTRY_TIERS is not a JSON object of tier → limits: {exc}",
            hint='e.g. {"free": {"requests_per_minute": 120, "url_expiry_minutes": 10}}',
        ) from None
    names = {f.name for f in msgspec.structs.fields(TierLimits)} - {"name"}
    for tier, values in overrides.items():
        if tier not in tiers:
            raise OpenDataError(
                f"OPENDATA_REGISTRY_TIERS: unknown tier {tier!r}",
                hint=f"tiers are {', '.join(sorted(tiers))}",
            )
        for key, value in values.items():
            if key not in names or value < 1:
                raise OpenDataError(
                    f"OPENDATA_REGISTRY_TIERS: {tier}.{key}={value!r} is not a known positive "
                    "limit",
                    hint=f"limits are {', '.join(sorted(names))}, each a positive integer",
                )
        tiers[tier] = msgspec.structs.replace(tiers[tier], **values)
    return tiers


def _stored_secret(path: Path) -> bytes:
    """A random signing key kept in the home directory (created once, readable by the owner)."""
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".secret-{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_hex(32).encode())
    try:
        os.link(tmp, path)  # atomic create-if-absent: concurrent workers agree on one key
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_bytes().strip()
