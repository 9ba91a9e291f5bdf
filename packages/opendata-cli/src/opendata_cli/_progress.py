"""rich progress bars that appear only for transfers longer than a moment."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["transfer_progress"]

DELAY = 0.5
"""Seconds a transfer must take before a bar is drawn (short ones print nothing)."""


@contextmanager
def transfer_progress(description: str) -> Iterator[Any]:
    """Yield a ``progress(phase, done, total)`` callback for :class:`opendata.Client`.

    Nothing is drawn when stderr is not a terminal, or before ``DELAY`` seconds have passed.
    """
    started = time.monotonic()
    state: dict[str, Any] = {"progress": None, "task": None}

    def callback(phase: str, done: int, total: int) -> None:
        if not sys.stderr.isatty() or time.monotonic() - started < DELAY:
            return
        if state["progress"] is None:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                MofNCompleteColumn,
                Progress,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            amount = (
                [DownloadColumn(), TransferSpeedColumn()]
                if phase == "download"
                else [MofNCompleteColumn()]
            )
            from rich.console import Console

            progress = Progress(
                f"[bold]{description}",
                BarColumn(),
                *amount,
                TimeRemainingColumn(),
                console=Console(stderr=True),  # stdout may carry data (od get -o -) or JSON
                transient=True,
            )
            progress.start()
            state["progress"], state["task"] = progress, progress.add_task(description, total=total)
        state["progress"].update(state["task"], completed=done, total=total)

    try:
        yield callback
    finally:
        if state["progress"] is not None:
            state["progress"].stop()
