"""Path parameters that several domains' routes take: a dataset's namespace and name."""

from __future__ import annotations

from typing import Annotated

from litestar.params import PathParameter

__all__ = ["Name", "Namespace"]

# The ID rules (core's DatasetId) are documented for clients and fuzzers but checked by core,
# whose error names the rule that failed (Litestar's would only quote the pattern).
Namespace = Annotated[
    str,
    PathParameter(
        description="the publisher, e.g. 'ecb' (GitHub owner rules)",
        schema_extra={"pattern": r"^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$", "maxLength": 39},
    ),
]
Name = Annotated[
    str,
    PathParameter(
        description="the dataset's name, e.g. 'euro-fx-rates'",
        schema_extra={"pattern": r"^(?!\.{1,2}$)[A-Za-z0-9._-]{1,100}$", "maxLength": 100},
    ),
]
