"""Run the examples in core's docstrings, so the documentation cannot drift from the code."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import opendata_core

# Every module, so a new one cannot be forgotten here.
MODULES = [
    "opendata_core",
    *sorted(m.name for m in pkgutil.iter_modules(opendata_core.__path__, "opendata_core.")),
]

# Modules that need the opendata-core[parquet] extra (pyarrow) to run their examples.
PARQUET_EXTRA = {"opendata_core.decoding", "opendata_core.tables"}


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    if name in PARQUET_EXTRA:  # core's own CI run installs no extras
        pytest.importorskip("pyarrow")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
