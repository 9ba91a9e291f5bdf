"""One retry rule for conditional writes (the manifest commit, the index update).

Exponential backoff with full jitter: writers that collided once do not collide again in
lockstep.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator

__all__ = ["attempts", "backoff_delay"]


def backoff_delay(attempt: int, *, base: float = 0.05, cap: float = 2.0) -> float:
    """Seconds to wait before retry ``attempt`` (1, 2, ...): uniform in ``[0, min(cap, b·2ⁿ⁻¹)]``.

    Example:
        >>> 0 <= backoff_delay(3) <= 0.2
        True
    """
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))  # noqa: S311 - jitter


def attempts(
    count: int, *, sleep: Callable[[float], None] = time.sleep, base: float = 0.05
) -> Iterator[int]:
    """Attempt numbers ``0 .. count-1``, sleeping :func:`backoff_delay` before each retry.

    The caller's loop decides what a failed attempt means (``continue``) and what to do when
    every attempt failed (the code after the loop).

    Example:
        >>> [n for n in attempts(3, sleep=lambda s: None)]
        [0, 1, 2]
    """
    for attempt in range(count):
        if attempt:
            sleep(backoff_delay(attempt, base=base))
        yield attempt
