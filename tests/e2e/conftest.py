"""Fixtures for the end-to-end tests: the examples' sources served from 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from opendata_cli._runner import SOURCE_URL_ENV
from opendata_cli.commands.demo import serve_fixtures

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


@pytest.fixture
def source_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], str]]:
    """``serve("fred-unemployment-rate")`` serves that example's fixtures/ on 127.0.0.1 and
    points ``OPENDATA_SOURCE_URL`` at it; returns the base URL."""
    with ExitStack() as stack:

        def serve(example: str) -> str:
            url = stack.enter_context(serve_fixtures(EXAMPLES / example / "fixtures"))
            monkeypatch.setenv(SOURCE_URL_ENV, url)
            return url

        yield serve
