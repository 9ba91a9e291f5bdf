"""One signature per public function, kept equal where it is written out (issue 22).

``od.load`` and friends (``opendata/_functions.py``) are the :class:`Client` methods on the
default store, and the Client delegates to the reader and the writer (``_read.py``,
``_publish.py``). Each layer spells its signature out (for help(), IDEs and mypy), so these tests
make the copies one source: a parameter added to one layer and not to the others, a default or
annotation that differs, an overload missing, or a parameter that is declared but not passed on,
fails here.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import opendata as od
from opendata import _client, _functions, _publish, _read

FUNCTIONS = [name for name in _functions.__all__ if name != "cache"]  # od.cache(): no method
DELEGATES = {"_reader": _read.Reader, "_writer": _publish.Writer}


def _tree(module: object) -> ast.Module:
    return ast.parse(Path(inspect.getfile(module)).read_text(encoding="utf-8"))  # type: ignore[arg-type]


def _defs(body: list[ast.stmt], name: str) -> list[ast.FunctionDef]:
    return [n for n in body if isinstance(n, ast.FunctionDef) and n.name == name]


def _client_body() -> list[ast.stmt]:
    (cls,) = [n for n in _tree(_client).body if isinstance(n, ast.ClassDef) and n.name == "Client"]
    return cls.body


def _is_overload(fn: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "overload" for d in fn.decorator_list)


def _shape(fn: ast.FunctionDef) -> str:
    """The signature as written (without ``self``), for comparing overloads."""
    args = fn.args
    positional = [a for a in args.args if a.arg != "self"]
    parts = [
        ast.dump(ast.arguments(**{**args.__dict__, "args": positional})),
        ast.dump(fn.returns) if fn.returns else "",
    ]
    return "\n".join(parts)


def _parameters(fn: Callable[..., Any]) -> list[inspect.Parameter]:
    return [p for p in inspect.signature(fn).parameters.values() if p.name != "self"]


def _forwarding_call(fn: ast.FunctionDef, name: str) -> ast.Call:
    """The one call of ``….name(...)`` in ``fn``'s body (the delegation)."""
    calls = [
        n
        for n in ast.walk(fn)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == name
    ]
    assert len(calls) == 1, f"{fn.name}: expected one call of .{name}(), found {len(calls)}"
    return calls[0]


def _names_passed(call: ast.Call) -> set[str]:
    args = [*call.args, *(k.value for k in call.keywords)]
    return {n.id for a in args for n in ast.walk(a) if isinstance(n, ast.Name)}


def test_every_module_function_is_a_client_method() -> None:
    assert set(FUNCTIONS) <= {n for n, _ in inspect.getmembers(od.Client, inspect.isfunction)}
    assert {n for n in od.__all__ if n.islower() and n != "settings"} == {"cache", *FUNCTIONS}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_module_function_has_the_methods_signature(name: str) -> None:
    method = inspect.signature(getattr(od.Client, name))
    function = inspect.signature(getattr(od, name))
    # Names, order, kinds, defaults and annotations (as written), and the return annotation.
    assert function == method.replace(parameters=_parameters(getattr(od.Client, name)))


@pytest.mark.parametrize("name", FUNCTIONS)
def test_module_function_has_the_methods_overloads(name: str) -> None:
    functions = [_shape(f) for f in _defs(_tree(_functions).body, name) if _is_overload(f)]
    methods = [_shape(f) for f in _defs(_client_body(), name) if _is_overload(f)]
    assert functions == methods


@pytest.mark.parametrize("name", FUNCTIONS)
def test_module_function_passes_every_parameter_on(name: str) -> None:
    (fn,) = [f for f in _defs(_tree(_functions).body, name) if not _is_overload(f)]
    passed = _names_passed(_forwarding_call(fn, name))
    missing = [p.name for p in _parameters(getattr(od, name)) if p.name not in passed]
    assert missing == [], f"od.{name} declares but does not pass on {missing}"


def _delegations() -> list[tuple[str, str]]:
    """``(method, attribute)``: the Client methods that hand their work to ``self.<attr>.<method>``."""
    out = []
    for fn in _client_body():
        if not isinstance(fn, ast.FunctionDef) or _is_overload(fn):
            continue
        for node in ast.walk(fn):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == fn.name
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr in DELEGATES
                and node.keywords  # a delegation passes the options on (manifest() adapts `id`)
            ):
                out.append((fn.name, node.func.value.attr))
    return out


def test_the_delegations_are_found() -> None:
    assert set(_delegations()) >= {
        ("load", "_reader"),
        ("scan", "_reader"),
        ("urls", "_reader"),
        ("push", "_writer"),
    }


@pytest.mark.parametrize(("name", "attribute"), _delegations())
def test_client_method_has_the_engines_parameters_and_passes_them_on(
    name: str, attribute: str
) -> None:
    engine = getattr(DELEGATES[attribute], name)
    assert _parameters(engine) == _parameters(getattr(od.Client, name))
    (fn,) = [f for f in _defs(_client_body(), name) if not _is_overload(f)]
    passed = _names_passed(_forwarding_call(fn, name))
    missing = [p.name for p in _parameters(engine) if p.name not in passed]
    assert missing == [], f"Client.{name} does not pass on {missing}"
