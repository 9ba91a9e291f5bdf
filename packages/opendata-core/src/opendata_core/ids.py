"""Dataset IDs: ``namespace/name``."""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Final

from opendata_core.errors import InvalidDatasetId

__all__ = ["DatasetId", "validate_github_owner"]

_OWNER_MAX: Final = 39
_NAME_MAX: Final = 100
_OWNER_RE: Final = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_NAME_RE: Final = re.compile(r"[a-z0-9._-]+")


def _describe_char(ch: str) -> str:
    name = unicodedata.name(ch, None)
    code = f"U+{ord(ch):04X}"
    return f"{ch!r} ({code} {name})" if name else f"{code}"


def validate_github_owner(value: str, *, what: str = "namespace") -> str:
    """Check ``value`` against GitHub's owner rules and return it lower-cased.

    Returns:
        The canonical (lower-case) form.

    Raises:
        ValueError: with a message naming the rule that failed (not an OpenDataError: callers wrap
            it into the error that fits their context).
    """
    _check_ascii(value, what)
    if not value:
        raise ValueError(f"{what} is empty")
    if len(value) > _OWNER_MAX:
        raise ValueError(f"{what} is {len(value)} characters long; the limit is {_OWNER_MAX}")
    low = value.lower()
    if low.startswith("-") or low.endswith("-"):
        raise ValueError(f"{what} {value!r} must not start or end with a hyphen")
    if "--" in low:
        raise ValueError(f"{what} {value!r} must not contain consecutive hyphens")
    bad = next((c for c in low if not (c.isascii() and (c.isalnum() or c == "-"))), None)
    if bad is not None:
        raise ValueError(
            f"{what} {value!r} contains {_describe_char(bad)}; "
            "only letters, digits and single hyphens are allowed"
        )
    assert _OWNER_RE.fullmatch(low)
    return low


def _check_ascii(value: str, what: str) -> None:
    # Checked before lower-casing: str.lower() maps some non-ASCII look-alikes to ASCII (the
    # Kelvin sign U+212A becomes 'k'), which would let a look-alike ID alias a real one.
    for ch in value:
        if not ch.isascii():
            raise ValueError(f"{what} contains the non-ASCII character {_describe_char(ch)}")
        if not ch.isprintable() or ch.isspace():
            raise ValueError(f"{what} contains the control or space character {_describe_char(ch)}")


def _validate_name(value: str) -> str:
    _check_ascii(value, "name")
    if not value:
        raise ValueError("name is empty")
    if len(value) > _NAME_MAX:
        raise ValueError(f"name is {len(value)} characters long; the limit is {_NAME_MAX}")
    if value in (".", ".."):
        raise ValueError(f"name must not be {value!r}")
    low = value.lower()
    bad = next((c for c in low if not (c.isalnum() or c in "._-")), None)
    if bad is not None:
        raise ValueError(
            f"name {value!r} contains {_describe_char(bad)}; "
            "only letters, digits, '-', '_' and '.' are allowed"
        )
    assert _NAME_RE.fullmatch(low)
    return low


class DatasetId:
    """A validated dataset ID: ``namespace/name``, canonically lower-case.

    Construct with :meth:`parse`. ``str(id)`` is the canonical form; IDs compare and hash by it.

    Example:
        >>> ds = DatasetId.parse("ECB/Euro-FX-Rates")
        >>> ds.namespace, ds.name, str(ds)
        ('ecb', 'euro-fx-rates', 'ecb/euro-fx-rates')
    """

    __slots__ = ("_name", "_namespace")

    _namespace: str
    _name: str

    def __init__(self, namespace: str, name: str) -> None:
        try:
            ns = validate_github_owner(namespace)
            nm = _validate_name(name)
        except ValueError as exc:
            raise InvalidDatasetId(f"{namespace}/{name}", str(exc)) from None
        object.__setattr__(self, "_namespace", ns)
        object.__setattr__(self, "_name", nm)

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError("DatasetId is immutable")

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (DatasetId.parse, (str(self),))

    @classmethod
    def parse(cls, value: str | DatasetId) -> DatasetId:
        r"""Parse and validate ``"namespace/name"``.

        Rules:

        * exactly one ``/`` separating namespace and name;
        * namespace (the publisher, normally the GitHub owner): 1-39 ASCII letters, digits and
          single hyphens, not starting or ending with a hyphen;
        * name: 1-100 ASCII letters, digits, ``-``, ``_`` and ``.``, and never ``.`` or ``..``;
        * no spaces, control characters or non-ASCII look-alikes anywhere;
        * upper case is accepted and folded: the canonical form is lower-case.

        Valid: ``"ecb/euro-fx-rates"``, ``"US-Treasury/yield_curve.daily"``, ``"a/b"``.
        Invalid: ``"ecb"`` (no slash), ``"ecb/fx/daily"`` (two slashes), ``"-ecb/fx"`` (leading
        hyphen), ``"ecb/.."``, ``"ecb/fx rates"`` (space), ``"\\u0435cb/fx"`` (a Cyrillic ``e``).

        Raises:
            InvalidDatasetId: naming the rule that failed.
        """
        if isinstance(value, DatasetId):
            return value
        if not isinstance(value, str):
            raise InvalidDatasetId(value, f"must be a string, not {type(value).__name__}")
        if cls is DatasetId:
            return _parse_text(value)  # ids are immutable: parsed once per text
        return cls._parse(value)

    @classmethod
    def _parse(cls, value: str) -> DatasetId:
        if value.count("/") != 1:
            found = "no '/'" if "/" not in value else f"{value.count('/')} '/'"
            raise InvalidDatasetId(
                value, f"must be 'namespace/name' with exactly one '/' (found {found})"
            )
        namespace, name = value.split("/")
        try:
            ns = validate_github_owner(namespace)
            nm = _validate_name(name)
        except ValueError as exc:
            raise InvalidDatasetId(value, str(exc)) from None
        obj = object.__new__(cls)
        object.__setattr__(obj, "_namespace", ns)
        object.__setattr__(obj, "_name", nm)
        return obj

    @property
    def namespace(self) -> str:
        """The publisher, lower-case (e.g. ``"ecb"``)."""
        return self._namespace

    @property
    def name(self) -> str:
        """The dataset's name within its namespace, lower-case."""
        return self._name

    def __str__(self) -> str:
        return f"{self._namespace}/{self._name}"

    def __repr__(self) -> str:
        return f"DatasetId({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DatasetId):
            return str(self) == str(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))

    def __lt__(self, other: DatasetId) -> bool:
        return str(self) < str(other)


@functools.lru_cache(maxsize=4096)
def _parse_text(value: str) -> DatasetId:
    """:meth:`DatasetId.parse` of a text (a registry parses the same few ids per request)."""
    return DatasetId._parse(value)
