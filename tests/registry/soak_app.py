"""The registry's app factory with its object-store calls counted, for the soak's capacity phase.

``granian --factory tests.registry.soak_app:create_app`` runs the registry unchanged except that
every ``obstore`` read, write and listing call it makes (:data:`COUNTED`) appends its name to the file ``SOAK_STORE_OPS`` names: on R2 a
``put``/``list`` is a Class A operation and a ``get`` a Class B one, so the counts give a
publish's and a sync's operations per class without an R2 bill.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

COUNTED = (
    "get",
    "get_async",
    "get_range",
    "get_range_async",
    "get_ranges",
    "get_ranges_async",
    "head",
    "head_async",
    "put",
    "put_async",
    "list",
    "list_with_delimiter",
    "list_with_delimiter_async",
)


def create_app() -> Any:
    import obstore

    from opendata_registry.app import create_app as registry_app

    path = os.environ["SOAK_STORE_OPS"]

    def counted(name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            with open(path, "a") as out:
                out.write(name + "\n")
            return call(*args, **kwargs)

        return run

    for name in COUNTED:
        if hasattr(obstore, name):
            setattr(obstore, name, counted(name, getattr(obstore, name)))
    return registry_app()
