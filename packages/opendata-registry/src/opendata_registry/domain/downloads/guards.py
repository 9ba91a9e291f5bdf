"""The checks a download passes before it is answered: one list for the handler and the direct path.

A download goes through three kinds of check, each in one place that both ways of answering it
(the route handler and the direct path, :mod:`~opendata_registry.domain.downloads.direct`) share:

1. Who calls, and whether their per-minute budget allows it: the access middleware
   (:mod:`opendata_registry.domain.keys.middleware`), which runs before the route is answered
   at all, whichever way.
2. The route's guards: Litestar runs them (app, router, controller, handler layers, in that order)
   before the handler; the direct path runs the very same resolved list with :func:`run_guards`
   before it reads the body. The download handler's own are :data:`DOWNLOAD_GUARDS`: a check
   that refuses a download from the route and the caller alone (a withdrawn dataset, say) goes
   there, and cannot be skipped by either path.
3. What depends on the dataset and the body (unknown dataset, column or range, the daily byte
   budget): :meth:`~opendata_registry.domain.downloads.services.DownloadService.download`, which
   both paths call through :func:`~opendata_registry.domain.downloads.direct.answer_download`.

``tests/registry/test_direct_download.py`` adds a refusing guard to :data:`DOWNLOAD_GUARDS` and
sees both paths refuse with the same answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection
    from litestar.handlers import BaseRouteHandler
    from litestar.types import Guard

    Connection = ASGIConnection[Any, Any, Any, Any]

__all__ = ["DOWNLOAD_GUARDS", "check_download", "run_guards"]

DOWNLOAD_GUARDS: tuple[Guard, ...] = ()
"""The download route's own guards, run in order by :func:`check_download` (none yet)."""


async def check_download(connection: Connection, handler: BaseRouteHandler) -> None:
    """The download handler's guard: every guard of :data:`DOWNLOAD_GUARDS`, in order.

    Read when a request comes, so a guard added to the list applies at once to both paths.
    """
    for guard in DOWNLOAD_GUARDS:
        await _run(guard, connection, handler)


async def run_guards(handler: BaseRouteHandler, connection: Connection) -> None:
    """Every guard Litestar runs before ``handler`` (all layers, in order), as it runs them."""
    for guard in handler.resolve_guards():
        await _run(guard, connection, handler)


async def _run(guard: Guard, connection: Connection, handler: BaseRouteHandler) -> None:
    """A guard, sync or async (Litestar takes both)."""
    result = guard(connection, handler)
    if result is not None:
        await result
