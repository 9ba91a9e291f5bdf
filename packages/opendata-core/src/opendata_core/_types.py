"""Constrained types shared by core's documents (checked while decoding, with the JSON path)."""

from __future__ import annotations

from typing import Annotated, TypeAlias

import msgspec

__all__ = ["Count"]

Count: TypeAlias = Annotated[int, msgspec.Meta(ge=0)]
"""A number of rows, bytes, shards, columns or nulls."""
