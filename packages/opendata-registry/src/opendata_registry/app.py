"""The application factory: ``create_app(settings)`` builds a configured Litestar app.

Granian and uvicorn call :func:`create_app` with no argument (``--factory``), which reads the
settings from the environment once.

The wiring: this module and :mod:`~opendata_registry.context` (the long-lived parts) put the
domains together; no domain imports them. Controllers receive the parts they use by name
(:func:`_dependencies`); the access middleware and the direct download path are given them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.logging.config import LoggingConfig
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components

from opendata_registry import __version__
from opendata_registry.context import Registry
from opendata_registry.domain.catalogue.controllers import (
    DatasetController,
    IndexController,
    VersionController,
)
from opendata_registry.domain.catalogue.deps import provide_catalogue
from opendata_registry.domain.downloads.controllers import DownloadController, ExportController
from opendata_registry.domain.downloads.direct import DirectDownload
from opendata_registry.domain.downloads.files import FilesController
from opendata_registry.domain.gateway.controllers import GatewayController
from opendata_registry.domain.health.controllers import HealthController
from opendata_registry.domain.keys.middleware import AccessMiddleware
from opendata_registry.domain.publishing.controllers import (
    AuthController,
    PublishController,
    UploadController,
)
from opendata_registry.domain.publishing.deps import provide_publisher
from opendata_registry.domain.publishing.services import PublishService
from opendata_registry.domain.usage.controllers import UsageController
from opendata_registry.infra.bodies import MAX_BODY_BYTES, BoundedRequest
from opendata_registry.infra.errors import handle_exception
from opendata_registry.infra.headers import add_answer_headers
from opendata_registry.infra.identity import provide_caller
from opendata_registry.infra.openapi import ArrayLikeStructSchema, ConstrainedScalarSchema
from opendata_registry.infra.requestlog import ACCESS_LOGGER, RequestLog
from opendata_registry.infra.settings import Settings

__all__ = ["create_app"]


# Litestar gives each controller's paths their own OPTIONS handler, so two controllers cannot
# share a path (litestar 2.25: "Handler already registered for path … and http method
# OPTIONS"). Where two domains answer one path, their controllers are joined here.
class _Datasets(DatasetController, PublishController):
    """``/v1/datasets``: the catalogue's reads and publishing's writes (``…/runs`` has both)."""


class _Files(FilesController, UploadController):
    """``/files/{key}``: signed downloads and signed uploads of a local folder store."""


def _dependencies(registry: Registry) -> dict[str, Provide]:
    """What controllers receive by name: the registry's parts, services, the caller.

    Each part is read from the registry on every request (a test may replace one).
    """

    def part(read: Callable[..., Any]) -> Provide:
        return Provide(read, sync_to_thread=False)

    return {
        "settings": part(lambda: registry.settings),
        "sessions": part(lambda: registry.sessions),
        "store": part(lambda: registry.store),
        "signer": part(lambda: registry.signer),
        "usage": part(lambda: registry.usage),
        "publishing": part(lambda: registry.publishing),
        "downloads": part(lambda: registry.downloads),
        "versions": part(lambda: registry.versions),
        "readiness": part(lambda: registry.check_ready),
        "publish": part(lambda: PublishService(registry)),
        "catalogue": Provide(provide_catalogue),
        "caller": part(provide_caller),
        "publisher": part(provide_publisher),
    }


def create_app(settings: Settings | None = None) -> Litestar:
    """A registry app; ``settings`` default to :meth:`Settings.from_env`.

    Start-up migrates the database and syncs the catalogue from the store; shut-down writes the
    buffered usage counts.
    """
    settings = settings or Settings.from_env()
    registry = Registry(settings)
    app = Litestar(
        route_handlers=[
            IndexController,
            _Datasets,
            VersionController,
            DownloadController,
            ExportController,
            UsageController,
            HealthController,
            _Files,
            AuthController,
            GatewayController,  # usage batches from the edge gateway
        ],
        dependencies=_dependencies(registry),
        exception_handlers={Exception: handle_exception},
        # Bodies are read up to MAX_BODY_BYTES and decoded no deeper than MAX_JSON_DEPTH.
        request_class=BoundedRequest,
        request_max_body_size=MAX_BODY_BYTES,
        before_send=[add_answer_headers],
        # The access middleware identifies and counts every caller, then the direct path
        # answers a valid download (direct.py; decision 0006).
        middleware=[
            AccessMiddleware(registry),
            DefineMiddleware(DirectDownload, downloads=registry.downloads),
        ],
        # Level 6 (zlib's default) is within a few per cent of 9 in size at a fraction of the
        # time; answers under one packet are sent as they are (compressing saves no packet).
        compression_config=CompressionConfig(
            backend="gzip", exclude="^/files/", minimum_size=1400, gzip_compress_level=6
        ),
        # Block is [length, sha256] on the wire; a Count in a dict is still >= 0.
        plugins=[ArrayLikeStructSchema(), ConstrainedScalarSchema()],
        openapi_config=OpenAPIConfig(
            title="OpenData registry",
            version=__version__,
            description="Catalogue, search and signed downloads (API v1).",
            path="/schema",
            components=Components(),
        ),
        # The access log: one JSON object per line on stderr, nothing else on the line.
        logging_config=LoggingConfig(
            formatters={"access": {"format": "%(message)s"}},
            handlers={"access": {"class": "logging.StreamHandler", "formatter": "access"}},
            loggers={
                ACCESS_LOGGER: {
                    "level": "INFO" if settings.access_log else "WARNING",
                    "handlers": ["access"],
                    "propagate": False,
                }
            },
        ),
        state=State({"registry": registry}),
        on_startup=[registry.start],
        on_shutdown=[registry.stop],
    )
    # Around Litestar's whole handler (its exception handling and routing included), not in
    # ``middleware=``, which runs only for a matched route: a 404 gets an id and a line too.
    app.asgi_handler = RequestLog(app.asgi_handler)
    return app
