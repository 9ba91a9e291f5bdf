"""Every environment variable and the user config file, read in one place.

Precedence everywhere: explicit argument > ``OPENDATA_*`` environment variable > user config file
(``$OPENDATA_HOME/config.toml``) > default.

======================== =========================================================================
variable                 meaning
======================== =========================================================================
``OPENDATA_HOME``        the user directory (config, local store, cache); default: the platform's
                         data directory (``~/.local/share/opendata`` on Linux)
``OPENDATA_STORE``       where datasets live: a folder path, ``file:///path``,
                         ``s3://bucket/prefix`` or ``r2://bucket/prefix``; default:
                         ``$OPENDATA_HOME/store``
``OPENDATA_DEBUG``       ``1`` shows tracebacks in the CLI
``OPENDATA_MAX_DECODE_   the most bytes one shard may decode to (default 8 GiB; a shard may also
BYTES``                  not decode to more than 1,000 times its size plus 1 GiB): a larger one is
                         refused while it is decoded, once it passes the limit
``OPENDATA_CACHE``       ``0`` turns the local shard cache off (default on)
``OPENDATA_CACHE_DIR``   where the cache lives (default ``$OPENDATA_HOME/cache``)
``OPENDATA_CACHE_MAX``   the cache's size cap in bytes (default 10 GiB); least recently used
                         entries are evicted beyond it
``AWS_*``                passed unchanged to obstore's S3 store (``AWS_ENDPOINT_URL``,
                         ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``, ...)
``R2_ACCOUNT_ID``        with ``r2://``: the Cloudflare account, giving the R2 endpoint
``OPENDATA_REGISTRY``    a registry URL: read through the registry (registry mode) when
                         ``OPENDATA_STORE`` is not set; ``https://``, or ``http://`` for loopback
``OPENDATA_API_KEY``     the registry API key (``od_live_…``), sent as ``Authorization: Bearer``
``OPENDATA_PUBLISH_      a producer token (``od_prod_…``) to publish through the registry outside
TOKEN``                  GitHub Actions
``ACTIONS_ID_TOKEN_      set by GitHub Actions (``permissions: id-token: write``): where the job
REQUEST_URL`` / ``_TOKEN`` asks for its OIDC token, exchanged at the registry for a publish token
======================== =========================================================================
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Settings", "settings"]


def _home() -> Path:
    if env := os.environ.get("OPENDATA_HOME"):
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("opendata", appauthor=False))


@dataclass(frozen=True)
class Settings:
    """Settings resolved from the environment and the user config file."""

    home: Path
    store: str
    r2_account_id: str | None
    aws_endpoint_url: str | None
    aws_region: str | None
    """``AWS_REGION``/``AWS_DEFAULT_REGION``; ``""`` when set but empty (an unset CI secret)."""
    registry: str | None
    api_key: str | None
    debug: bool
    max_decode_bytes: int = 8 << 30
    """Ceiling on what one shard may decode to (``OPENDATA_MAX_DECODE_BYTES``)."""
    home_env: str | None = None
    """``OPENDATA_HOME`` as set (``None`` when unset or empty)."""
    store_env: str | None = None
    """``OPENDATA_STORE`` as set (``None`` when unset or empty), before the config file and the
    default fill ``store`` in."""

    cache_dir_override: Path | None = None
    cache: bool = True
    """``OPENDATA_CACHE`` is not ``0``."""
    cache_max: int = 10 << 30
    """``OPENDATA_CACHE_MAX``: the cache's size cap in bytes."""
    publish_token: str | None = None
    """``OPENDATA_PUBLISH_TOKEN``: a producer token for publishing through the registry."""
    actions_token_url: str | None = None
    """``ACTIONS_ID_TOKEN_REQUEST_URL``: a GitHub Actions job's OIDC token endpoint."""
    actions_token: str | None = None
    """``ACTIONS_ID_TOKEN_REQUEST_TOKEN``: the bearer token for that endpoint."""

    @property
    def cache_dir(self) -> Path:
        """Verified shards and blocks, named by content hash (they never change)."""
        return self.cache_dir_override or self.home / "cache"


_CONFIG_KEYS = ("store", "r2_account_id")
"""The keys ``config.toml`` may set (each a string); anything else is a typo and an error."""


def _config_file(home: Path) -> dict[str, object]:
    path = home / "config.toml"
    if not path.is_file():
        return {}
    from opendata_core.errors import FormatError

    keys = ", ".join(_CONFIG_KEYS)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        error = FormatError(f"{path}: not valid TOML: {exc}", document=str(path))
        error.hint = f"fix that line, or delete the file (it may set: {keys})"
        raise error from None
    for key, value in data.items():
        if key not in _CONFIG_KEYS:
            import difflib

            close = difflib.get_close_matches(key, _CONFIG_KEYS, n=1)
            error = FormatError(f"{path}: unknown key {key!r}", document=str(path), field=key)
            error.hint = (f"did you mean {close[0]!r}? " if close else "") + f"known keys: {keys}"
            raise error
        if not isinstance(value, str):
            error = FormatError(
                f"{path}: {key} must be a string, not {value!r}", document=str(path), field=key
            )
            error.hint = f'write it in quotes: {key} = "..."'
            raise error
    return data


def settings(*, config_file: bool = True) -> Settings:
    """Read the settings now (the environment may have changed since the last call).

    Args:
        config_file: Also read ``$OPENDATA_HOME/config.toml`` (``False``: the environment only,
            for an error handler that must not fail on a broken config file).

    Example:
        >>> import opendata as od
        >>> od.settings().home  # doctest: +SKIP
        PosixPath('/home/me/.local/share/opendata')
    """
    home = _home()
    config = _config_file(home) if config_file else {}
    store_env = os.environ.get("OPENDATA_STORE") or None
    store = store_env or str(config.get("store") or "") or str(home / "store")
    return Settings(
        home=home,
        store=store,
        r2_account_id=os.environ.get("R2_ACCOUNT_ID") or _str(config.get("r2_account_id")),
        aws_endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT"),
        aws_region=os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION")),
        registry=os.environ.get("OPENDATA_REGISTRY") or None,
        api_key=os.environ.get("OPENDATA_API_KEY") or None,
        debug=os.environ.get("OPENDATA_DEBUG") == "1",
        max_decode_bytes=_size("OPENDATA_MAX_DECODE_BYTES", 8 << 30),
        home_env=os.environ.get("OPENDATA_HOME") or None,
        store_env=store_env,
        cache_dir_override=Path(d).expanduser()
        if (d := os.environ.get("OPENDATA_CACHE_DIR"))
        else None,
        cache=os.environ.get("OPENDATA_CACHE", "").strip() != "0",
        cache_max=_size("OPENDATA_CACHE_MAX", 10 << 30),
        publish_token=os.environ.get("OPENDATA_PUBLISH_TOKEN") or None,
        actions_token_url=os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL") or None,
        actions_token=os.environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN") or None,
    )


def _size(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value <= 0:
        from opendata_core.errors import OpenDataError

        raise OpenDataError(
            f"{name}={text[:40]!r} is not a positive number of bytes",
            hint=f"set {name} to e.g. {default}, or unset it",
        )
    return value


def _str(value: object) -> str | None:
    return str(value) if value else None
