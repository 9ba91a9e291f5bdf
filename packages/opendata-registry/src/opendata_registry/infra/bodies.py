"""The one way a JSON request body is decoded: bounded in size and in nesting depth first.

msgspec decodes recursively and has no depth option: a body of 10,000 ``[`` raised
``RecursionError`` inside the decoder (a 500), and a deep value that did decode inside an
``Any`` field (a commit's ``preview``) could be stored and fail every later encode. So the depth
is measured before decoding, with byte operations that run in C (see :func:`nests_deeper`),
and a body nested deeper than :data:`MAX_JSON_DEPTH` is refused with a 400 naming the limit.
The size is bounded before that: Litestar stops reading a body past the app's
``request_max_body_size`` (:data:`MAX_BODY_BYTES`, 413) and so does the direct download path.

Litestar's handlers decode through :class:`BoundedRequest` (the app's ``request_class``); the
direct download path (:mod:`opendata_registry.domain.downloads.direct`) calls
:func:`decode_json_body` itself.
"""

from __future__ import annotations

import re
from typing import Any, Final, TypeVar

import msgspec
from litestar import Request
from litestar.exceptions import SerializationException
from litestar.types import Empty

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_JSON_DEPTH",
    "BoundedRequest",
    "decode_json_body",
    "nests_deeper",
]

T = TypeVar("T")

MAX_BODY_BYTES: Final = 10_000_000
"""The largest request body the API reads (a commit of a few thousand shards is ~5 MB)."""
MAX_JSON_DEPTH: Final = 32
"""The deepest nesting of arrays and objects a JSON body may have (the wire Structs need 5)."""

_STRINGS: Final = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
"""A JSON string, whose brackets are text, not structure."""
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")
_OPENERS_ONLY: Final = bytes.maketrans(b"{}", b"[]")
_DECODERS: Final[dict[Any, msgspec.json.Decoder[Any]]] = {}


def nests_deeper(body: bytes, limit: int) -> bool:
    """Whether the arrays and objects in ``body`` nest more than ``limit`` levels deep.

    A body with no more openers than ``limit`` cannot (counting them is the cheap first test).
    Otherwise strings are removed (their brackets are text), what is left is reduced to its
    brackets, and each pass removes the innermost ``[]`` pairs, so the number of passes is the
    depth. Every step is a C-level bytes operation, with at most ``limit + 1`` passes.

    Example:
        >>> nests_deeper(b'{"a": [[1, 2], {"b": "]]]"}]}', limit=3)
        False
        >>> nests_deeper(b'{"a": [[1, 2], {"b": "]]]"}]}', limit=2)
        True
        >>> nests_deeper(b"[" * 10_000, limit=32)
        True
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _STRINGS.sub(b"", body).translate(_OPENERS_ONLY, _NOT_BRACKETS)
    depth = 0
    while brackets:
        reduced = brackets.replace(b"[]", b"")
        if reduced == brackets:
            # Unbalanced (malformed JSON): what is left is closers then openers; the openers
            # still nest, and the decoder would descend into every one of them.
            return depth + reduced.count(b"[") > limit
        depth += 1
        if depth > limit:
            return True
        brackets = reduced
    return False


def decode_json_body(body: bytes, type: type[T] = Any) -> T:  # type: ignore[assignment]
    """``body`` decoded as JSON (into ``type``), or :class:`SerializationException` saying why.

    Refuses a body nested deeper than :data:`MAX_JSON_DEPTH` before decoding it; Litestar turns
    the exception into a 400 whose message is the reason.
    """
    if nests_deeper(body, MAX_JSON_DEPTH):
        raise SerializationException(
            f"the JSON body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep; "
            "send the documented shape (see /schema/openapi.json)"
        )
    decoder = _DECODERS.get(type)
    if decoder is None:  # one Decoder per type: the download path decodes on every request
        decoder = _DECODERS.setdefault(type, msgspec.json.Decoder(type))
    try:
        decoded: T = decoder.decode(body)
    except msgspec.DecodeError as exc:  # ValidationError included
        raise SerializationException(str(exc)) from exc
    except RecursionError:  # cannot happen under MAX_JSON_DEPTH; kept so it never is a 500
        raise SerializationException("the JSON body is nested too deeply") from None
    return decoded


class BoundedRequest(Request[Any, Any, Any]):
    """Litestar's request, decoding its JSON body with :func:`decode_json_body`."""

    async def json(self) -> Any:
        """The body decoded as JSON (``null`` when empty), bounded in depth."""
        state = self._connection_state
        if state.json is Empty:
            state.json = decode_json_body(await self.body() or b"null")
        return await super().json()
