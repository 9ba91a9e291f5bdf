"""One rule for renamed public names: the old name keeps working for one release, and warns.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     renamed("search(country=)", "search(geo=)")
    >>> str(caught[0].message)
    'search(country=) is deprecated: use search(geo=) (the old name goes away in the next release)'
"""

from __future__ import annotations

import warnings

__all__ = ["renamed", "renamed_message"]


def renamed_message(old: str, new: str) -> str:
    """The one sentence that tells a user an old name was renamed (the CLI prints it too)."""
    return f"{old} is deprecated: use {new} (the old name goes away in the next release)"


def renamed(old: str, new: str, *, stacklevel: int = 2) -> None:
    """Warn (``DeprecationWarning``) that ``old`` was renamed to ``new``.

    ``stacklevel`` counts from the caller of :func:`renamed`, as :func:`warnings.warn` does: the
    default points at the caller's caller (the user's line that used the old name).
    """
    warnings.warn(renamed_message(old, new), DeprecationWarning, stacklevel=stacklevel + 1)
