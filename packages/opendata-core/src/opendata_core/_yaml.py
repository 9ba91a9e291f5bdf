"""YAML helpers: loading with positions, comment-preserving writing, and quoting scalars."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from opendata_core._findings import Finding

if TYPE_CHECKING:
    # ruamel.yaml costs ~0.1 s to import; it is loaded only when a file is read or written,
    # so `import opendata` stays fast.
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap


def plain(value: Any) -> Any:
    """``value`` with ruamel's round-trip types turned into plain dicts, lists and strs."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def _yaml() -> YAML:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def parse_text(text: str, display: str) -> tuple[Any, list[Finding]]:
    """The round-trip document in ``text``, or ``None`` and the finding that stopped reading."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return _yaml().load(text), []
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        col = mark.column + 1 if mark is not None else None
        what = exc.problem or exc.context or "invalid YAML"
        return None, [
            Finding(
                path=display,
                line=line,
                column=col,
                field="",
                message=f"invalid YAML: {what}",
                hint="check the indentation and quoting on this line",
            )
        ]
    except YAMLError as exc:
        return None, [
            Finding(path=display, line=None, column=None, field="", message=f"invalid YAML: {exc}")
        ]
    except RecursionError:
        return None, [
            Finding(
                path=display,
                line=None,
                column=None,
                field="",
                message="invalid YAML: lists or mappings are nested too deeply to read",
                hint="opendata.yaml needs only a few levels of nesting; remove the deep structure",
            )
        ]


def set_path(doc: CommentedMap, dotted: str, value: Any) -> None:
    """Set (or with ``None`` remove) the dotted key ``a.b`` in ``doc``, creating mappings."""
    from ruamel.yaml.comments import CommentedMap

    parts = dotted.split(".")
    node = doc
    for p in parts[:-1]:
        if not isinstance(node.get(p), Mapping):
            node[p] = CommentedMap()
        node = node[p]
    if value is None:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value


def dump_text(doc: Any) -> str:
    """``doc`` written back as YAML text, with the comments and quoting it was read with."""
    buf = io.StringIO()
    _yaml().dump(doc, buf)
    return buf.getvalue()


# Words YAML 1.1 readers (PyYAML, GitHub Actions) take for booleans, null or numbers, not strings.
_RESERVED_WORDS: Final = frozenset(
    "y n yes no on off true false null ~ .nan .inf -.inf".split()  # noqa: SIM905
)
# What stays a string when written plain: a letter first, then no character YAML gives a meaning.
_PLAIN_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9 ,.()/&+'_-]*")


def yaml_scalar(value: str, *, quote: bool = False, flow: bool = False) -> str:
    """``value`` as a YAML scalar: plain when that reads back as the same string, else quoted.

    ``quote=True`` always quotes; ``flow=True`` is for an item of a ``[a, b]`` list, where a
    comma would split the item. The quoted form is a JSON string (valid YAML).

    Example:
        >>> yaml_scalar("Euro FX rates"), yaml_scalar("yes"), yaml_scalar("3.11")
        ('Euro FX rates', '"yes"', '"3.11"')
    """
    if (
        not quote
        and _PLAIN_RE.fullmatch(value)
        and value.lower() not in _RESERVED_WORDS
        and value == value.strip()
        and not (flow and "," in value)
    ):
        return value
    return json.dumps(value, ensure_ascii=False)
