"""Run the examples in core's docstrings, so the documentation cannot drift from the code."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "opendata_core",
    "opendata_core.ids",
    "opendata_core.layout",
    "opendata_core.documents",
    "opendata_core.metadata",
    "opendata_core.problems",
    "opendata_core.api",
    "opendata_core.timerange",
    "opendata_core.storeurl",
    "opendata_core.readme",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
