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
``AWS_*``                passed unchanged to obstore's S3 store (``AWS_ENDPOINT_URL``,
                         ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``, ...)
``R2_ACCOUNT_ID``        with ``r2://``: the Cloudflare account, giving the R2 endpoint
``OPENDATA_REGISTRY``    a registry URL: read through the registry (registry mode) when
                         ``OPENDATA_STORE`` is not set; ``https://``, or ``http://`` for loopback
``OPENDATA_API_KEY``     the registry API key (``od_live_…``), sent as ``Authorization: Bearer``
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

    @property
    def cache_dir(self) -> Path:
        """Verified shards, named by content hash (they never change)."""
        return self.home / "cache"


def _config_file(home: Path) -> dict[str, object]:
    path = home / "config.toml"
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        return tomllib.load(fh)


def settings() -> Settings:
    """Read the settings now (the environment may have changed since the last call)."""
    home = _home()
    config = _config_file(home)
    store = (
        os.environ.get("OPENDATA_STORE") or str(config.get("store") or "") or str(home / "store")
    )
    return Settings(
        home=home,
        store=store,
        r2_account_id=os.environ.get("R2_ACCOUNT_ID") or _str(config.get("r2_account_id")),
        aws_endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT"),
        aws_region=os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION")),
        registry=os.environ.get("OPENDATA_REGISTRY") or None,
        api_key=os.environ.get("OPENDATA_API_KEY") or None,
        debug=os.environ.get("OPENDATA_DEBUG") == "1",
    )


def _str(value: object) -> str | None:
    return str(value) if value else None
