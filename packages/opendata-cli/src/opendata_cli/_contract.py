"""The ``main()`` contract, checked in one place for ``od validate`` (statically) and ``od run``.

``od run`` calls ``main()`` with no arguments, so every parameter must have a default (or be
``*args`` / ``**kwargs``), whatever its kind: positional-only, positional-or-keyword or
keyword-only.
"""

from __future__ import annotations

import ast
import inspect
from typing import Final

__all__ = ["MAIN_ARGUMENTS_HINT", "main_arguments_problem", "signature_of"]

MAIN_ARGUMENTS_HINT: Final = "give the parameters defaults, or read settings from the environment"


def signature_of(node: ast.FunctionDef | ast.AsyncFunctionDef) -> inspect.Signature:
    """The signature a ``def`` in source would have (defaults are placeholders), without running it.

    Example:
        >>> tree = ast.parse("def main(a, /, b=1, *, c): ...")
        >>> str(signature_of(tree.body[0]))
        '(a, /, b=Ellipsis, *, c)'
    """
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    first_default = len(positional) - len(args.defaults)
    kinds = [inspect.Parameter.POSITIONAL_ONLY] * len(args.posonlyargs) + [
        inspect.Parameter.POSITIONAL_OR_KEYWORD
    ] * len(args.args)
    params = [
        inspect.Parameter(
            a.arg, kind, default=... if i >= first_default else inspect.Parameter.empty
        )
        for i, (a, kind) in enumerate(zip(positional, kinds, strict=True))
    ]
    if args.vararg:
        params.append(inspect.Parameter(args.vararg.arg, inspect.Parameter.VAR_POSITIONAL))
    params += [
        inspect.Parameter(
            a.arg,
            inspect.Parameter.KEYWORD_ONLY,
            default=inspect.Parameter.empty if d is None else ...,
        )
        for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    ]
    if args.kwarg:
        params.append(inspect.Parameter(args.kwarg.arg, inspect.Parameter.VAR_KEYWORD))
    return inspect.Signature(params)


def main_arguments_problem(signature: inspect.Signature) -> str | None:
    """The message when ``main`` cannot be called without arguments, else ``None``.

    Example:
        >>> main_arguments_problem(inspect.signature(lambda x, /: x))
        'main() must take no arguments, but it needs x'
        >>> main_arguments_problem(inspect.signature(lambda *a, k=1, **kw: a)) is None
        True
    """
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    required = [
        p.name
        for p in signature.parameters.values()
        if p.default is p.empty and p.kind not in variadic
    ]
    if not required:
        return None
    return f"main() must take no arguments, but it needs {', '.join(required)}"
