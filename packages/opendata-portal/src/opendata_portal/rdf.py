"""A small RDF graph written as JSON-LD or Turtle, for the DCAT catalogue (``/catalog.*``).

Only what the catalogue needs: subjects with types and properties whose values are IRIs, typed
or language-tagged literals, or nested blank nodes. Both writers escape every literal and IRI,
so a producer's title or URL cannot break out of a string or an IRI. The tests parse both
outputs with rdflib and check they are the same graph.

Example:
    >>> n = Node("https://ex.org/d", ["dcat:Dataset"], [("dct:title", Literal("A 'b'", lang="en"))])
    >>> prefixes = {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/"}
    >>> print(to_turtle([n], prefixes))
    @prefix dcat: <http://www.w3.org/ns/dcat#> .
    @prefix dct: <http://purl.org/dc/terms/> .
    <BLANKLINE>
    <https://ex.org/d> a dcat:Dataset ;
        dct:title "A 'b'"@en .
    <BLANKLINE>
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

__all__ = ["IRI", "Literal", "Node", "to_jsonld", "to_turtle"]


@dataclass(frozen=True)
class IRI:
    """An IRI value (absolute, or a ``prefix:name`` of the document's prefixes)."""

    value: str


@dataclass(frozen=True)
class Literal:
    """A literal: plain, with a datatype (``xsd:date``) or with a language tag."""

    value: str
    datatype: str | None = None
    lang: str | None = None


@dataclass
class Node:
    """A subject: its IRI (``None``: a blank node, written nested), types and properties."""

    id: str | None
    types: list[str] = field(default_factory=list)
    props: list[tuple[str, Value]] = field(default_factory=list)


Value: TypeAlias = IRI | Literal | Node

# Characters an IRIREF may not hold (Turtle §6.4): percent-encoded, so a bad URL stays one IRI.
_IRI_BAD: Final = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_ESCAPES: Final = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CURIE: Final = re.compile(r"[A-Za-z][\w-]*:[\w.-]*")


def _safe(iri: str) -> str:
    return _IRI_BAD.sub(lambda m: f"%{ord(m.group(0)):02X}", iri)


def _iri(value: str, prefixes: Mapping[str, str]) -> str:
    prefix, _, local = value.partition(":")
    if prefix in prefixes and _CURIE.fullmatch(value) and not local.endswith("."):
        return value
    return "<" + _safe(value) + ">"


def _string(value: str) -> str:
    out = "".join(_ESCAPES.get(c, c) for c in value)
    # Other control characters as \\uXXXX (Turtle allows UCHAR in strings).
    return '"' + re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m.group(0)):04X}", out) + '"'


def _turtle_value(value: Value, prefixes: Mapping[str, str], indent: str) -> str:
    if isinstance(value, IRI):
        return _iri(value.value, prefixes)
    if isinstance(value, Literal):
        text = _string(value.value)
        if value.lang:
            return f"{text}@{value.lang}"
        if value.datatype:
            return f"{text}^^{_iri(value.datatype, prefixes)}"
        return text
    if value.id is not None:
        return _iri(value.id, prefixes)
    inner = indent + "    "
    return "[\n" + _turtle_body(value, prefixes, inner) + f"\n{indent}]"


def _turtle_body(node: Node, prefixes: Mapping[str, str], indent: str) -> str:
    parts: list[str] = []
    if node.types:
        parts.append("a " + ", ".join(_iri(t, prefixes) for t in node.types))
    grouped: dict[str, list[Value]] = {}
    for name, value in node.props:
        grouped.setdefault(name, []).append(value)
    for name, values in grouped.items():
        objects = ", ".join(_turtle_value(v, prefixes, indent) for v in values)
        parts.append(f"{_iri(name, prefixes)} {objects}")
    return " ;\n".join(indent + p for p in parts)


def _named_inside(node: Node) -> list[Node]:
    """Named nodes given as property values (Turtle writes them as blocks of their own)."""
    found: list[Node] = []
    for _, value in node.props:
        if isinstance(value, Node):
            if value.id is not None:
                found.append(value)
            found.extend(_named_inside(value))
    return found


def to_turtle(nodes: Sequence[Node], prefixes: Mapping[str, str]) -> str:
    """The nodes as Turtle: prefixes, then one block per named subject."""
    head = "".join(f"@prefix {p}: <{iri}> .\n" for p, iri in prefixes.items())
    blocks = []
    queue = list(nodes)
    while queue:
        node = queue.pop(0)
        queue[:0] = _named_inside(node)
        body = _turtle_body(node, prefixes, "    ").lstrip()
        subject = _iri(node.id, prefixes) if node.id is not None else "[]"
        blocks.append(f"{subject} {body} .\n")
    return head + "\n" + "\n".join(blocks)


def _jsonld_value(value: Value) -> Any:
    if isinstance(value, IRI):
        return {"@id": _safe(value.value)}
    if isinstance(value, Literal):
        if value.lang:
            return {"@value": value.value, "@language": value.lang}
        if value.datatype:
            return {"@value": value.value, "@type": value.datatype}
        return value.value
    return _jsonld_node(value)


def _jsonld_node(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if node.id is not None:
        out["@id"] = _safe(node.id)
    if node.types:
        out["@type"] = node.types if len(node.types) > 1 else node.types[0]
    for name, value in node.props:
        converted = _jsonld_value(value)
        if name in out:
            existing = out[name]
            out[name] = (
                [*existing, converted]
                if isinstance(existing, list)
                else [
                    existing,
                    converted,
                ]
            )
        else:
            out[name] = converted
    return out


def to_jsonld(nodes: Sequence[Node], prefixes: Mapping[str, str]) -> dict[str, Any]:
    """The nodes as one JSON-LD document with a ``@graph`` (the prefixes are its context)."""
    return {"@context": dict(prefixes), "@graph": [_jsonld_node(n) for n in nodes]}
