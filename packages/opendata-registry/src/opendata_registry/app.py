"""The application factory: ``create_app(settings)`` builds a configured Litestar app.

Granian and uvicorn call :func:`create_app` with no argument (``--factory``), which reads the
settings from the environment once.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.logging.config import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components

from opendata_registry import __version__
from opendata_registry.context import Registry
from opendata_registry.domain.catalogue.deps import provide_catalogue, provide_registry
from opendata_registry.domain.catalogue.index import IndexController
from opendata_registry.domain.downloads.direct import DirectDownload
from opendata_registry.domain.gateway.controllers import GatewayController
from opendata_registry.domain.health.controllers import HealthController
from opendata_registry.domain.keys.middleware import AccessMiddleware
from opendata_registry.domain.publishing.controllers import (
    AuthController,
    PublishController,
    UploadController,
)
from opendata_registry.domain.usage.controllers import UsageController
from opendata_registry.infra.bodies import MAX_BODY_BYTES, BoundedRequest
from opendata_registry.infra.errors import handle_exception
from opendata_registry.infra.headers import add_answer_headers
from opendata_registry.infra.identity import provide_caller
from opendata_registry.infra.openapi import ArrayLikeStructSchema, ConstrainedScalarSchema
from opendata_registry.infra.requestlog import ACCESS_LOGGER, RequestLog
from opendata_registry.infra.settings import Settings

__all__ = ["create_app"]


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
            PublishController,  # DatasetController + uploads/commit/runs
            UsageController,
            HealthController,
            UploadController,  # FilesController + signed local-store uploads
            AuthController,
            GatewayController,  # usage batches from the edge gateway
        ],
        dependencies={
            "registry": Provide(provide_registry, sync_to_thread=False),
            "catalogue": Provide(provide_catalogue),
            "caller": Provide(provide_caller, sync_to_thread=False),
        },
        exception_handlers={Exception: handle_exception},
        # Bodies are read up to MAX_BODY_BYTES and decoded no deeper than MAX_JSON_DEPTH.
        request_class=BoundedRequest,
        request_max_body_size=MAX_BODY_BYTES,
        before_send=[add_answer_headers],
        # The access middleware identifies and counts every caller, then the direct path
        # answers a valid download (direct.py; decision 0006).
        middleware=[AccessMiddleware(), DirectDownload],
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
