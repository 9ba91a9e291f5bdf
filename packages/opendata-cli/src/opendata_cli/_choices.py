"""Choices of an option that core defines, read from core only when click needs them.

``od --help`` (and every command's import) stays free of core and msgspec
(``tests/cli/test_init.py::test_commands_keep_od_help_light``), while the values keep their one
home in core: ``CoreChoice("opendata_core.lifecycle", "TRUST_LEVELS")``.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import click

__all__ = ["CoreChoice"]


class CoreChoice(click.Choice[str]):
    """A :class:`click.Choice` over ``module.name`` (a tuple of strings), from ``skip`` on."""

    def __init__(self, module: str, name: str, *, skip: int = 0) -> None:
        # click.Choice.__init__ would read the values now: keep where they are instead.
        self._where = (module, name, skip)
        self._values: tuple[str, ...] | None = None
        self.case_sensitive = True

    @property  # type: ignore[override]
    def choices(self) -> Sequence[str]:
        """The values, imported from core the first time they are needed."""
        if self._values is None:
            module, name, skip = self._where
            values: Sequence[str] = getattr(importlib.import_module(module), name)
            self._values = tuple(values[skip:])
        return self._values

    @choices.setter
    def choices(self, values: Sequence[str]) -> None:
        self._values = tuple(values)
