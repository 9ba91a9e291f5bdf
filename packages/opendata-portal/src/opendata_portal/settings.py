"""The portal's settings: every environment variable it reads, in one place.

========================================= =========================================================
variable                                  meaning
========================================= =========================================================
``OPENDATA_PORTAL_REGISTRY_URL``          the registry the portal reads (default
                                          ``http://127.0.0.1:8000``)
``OPENDATA_PORTAL_PUBLIC_REGISTRY_URL``   the registry URL shown to visitors (JSON links, the
                                          ``OPENDATA_REGISTRY=`` line); default: the one above
``OPENDATA_PORTAL_PUBLIC_URL``            the portal's own public base URL, for the absolute links
                                          of sitemaps, Croissant and DCAT files (default: the
                                          address each request came to)
``OPENDATA_PORTAL_API_KEY``               an API key the portal sends to the registry (optional)
``OPENDATA_PORTAL_TIMEOUT``               seconds to wait for the registry (default ``5``)
``OPENDATA_PORTAL_HOST``                  ``opendata-portal serve`` address (default ``127.0.0.1``)
``OPENDATA_PORTAL_PORT``                  ``opendata-portal serve`` port (default ``8001``)
``OPENDATA_PORTAL_PER_PAGE``              results per search page (default ``20``)
========================================= =========================================================

Example:
    >>> s = Settings.from_env({"OPENDATA_PORTAL_REGISTRY_URL": "http://127.0.0.1:9000/"})
    >>> s.registry_url, s.public_registry_url
    ('http://127.0.0.1:9000', 'http://127.0.0.1:9000')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from opendata_core.errors import OpenDataError

__all__ = ["Settings"]

_PREFIX = "OPENDATA_PORTAL_"


class SettingsError(OpenDataError, ValueError):
    """An environment variable has a value the portal cannot use."""


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = (env.get(_PREFIX + name) or default).strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(
            f"{_PREFIX}{name}={value!r} is not an http(s) URL",
            hint=f"set {_PREFIX}{name} to a base URL such as http://127.0.0.1:8000",
        )
    return value


def _number(env: Mapping[str, str], name: str, default: float, *, low: float, high: float) -> float:
    raw = env.get(_PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise SettingsError(
            f"{_PREFIX}{name}={raw!r} is not a number from {low:g} to {high:g}",
            hint=f"set {_PREFIX}{name} to a number from {low:g} to {high:g}, or unset it",
        )
    return value


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the portal is configured with; build it once with :meth:`from_env`."""

    registry_url: str = "http://127.0.0.1:8000"
    public_registry_url: str = "http://127.0.0.1:8000"
    public_url: str | None = None
    api_key: str | None = None
    timeout: float = 5.0
    host: str = "127.0.0.1"
    port: int = 8001
    per_page: int = 20

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the ``OPENDATA_PORTAL_*`` variables (from ``os.environ`` by default).

        Raises:
            SettingsError: a variable is set to a value that cannot work; the message names it.
        """
        env = os.environ if env is None else env
        registry = _url(env, "REGISTRY_URL", cls.registry_url)
        return cls(
            registry_url=registry,
            public_registry_url=_url(env, "PUBLIC_REGISTRY_URL", registry),
            public_url=_url(env, "PUBLIC_URL", "") if env.get(_PREFIX + "PUBLIC_URL") else None,
            api_key=env.get(_PREFIX + "API_KEY") or None,
            timeout=_number(env, "TIMEOUT", cls.timeout, low=0.1, high=300),
            host=env.get(_PREFIX + "HOST") or cls.host,
            port=int(_number(env, "PORT", cls.port, low=0, high=65535)),
            per_page=int(_number(env, "PER_PAGE", cls.per_page, low=1, high=100)),
        )
