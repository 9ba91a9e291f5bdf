"""Loading a producer: its folder and opendata.yaml, main.py, and what main() returns."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import inspect
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

from opendata_cli._contract import MAIN_ARGUMENTS_HINT, main_arguments_problem

if TYPE_CHECKING:
    from opendata_core.metadata import DatasetMetadata

from opendata_cli._failures import _producer_failure
from opendata_cli._outcome import RunOutcome, _Failure
from opendata_cli._placeholders import enforce_placeholders


def _folder(path: Path) -> Path:
    path = path.expanduser()
    if path.is_file() or path.suffix in (".yaml", ".yml"):
        path = path.parent
    return path.resolve()


def _load_metadata(folder: Path, outcome: RunOutcome) -> DatasetMetadata:
    from opendata_core.errors import MetadataError
    from opendata_core.metadata import load_metadata

    yaml_path = folder / "opendata.yaml"
    if not yaml_path.is_file():
        hint = (
            f"{folder} does not exist"
            if not folder.is_dir()
            else "run `od init` to create one, or pass the dataset's folder: od run PATH"
        )
        raise _Failure("validation", f"no opendata.yaml in {folder}", hint=hint)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            meta = load_metadata(yaml_path)
            enforce_placeholders(yaml_path, meta, outcome.warnings.append)
        except MetadataError as exc:
            raise _Failure(
                "validation",
                str(exc),
                hint="`od validate` lists every problem; nothing was published",
                cause=exc,
            ) from None
    outcome.warnings.extend(str(w.message) for w in caught)
    return meta


@contextlib.contextmanager
def _inside(folder: Path) -> Iterator[None]:
    """Run producer code the way ``python main.py`` would: from its folder, importable siblings."""
    previous = Path.cwd()
    loaded = set(sys.modules)
    sys.path.insert(0, str(folder))
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)
        with contextlib.suppress(ValueError):
            sys.path.remove(str(folder))
        # Forget the producer's own modules (helpers.py, ...): the next producer run in this
        # process (od demo) may have a different module of the same name.
        for name in set(sys.modules) - loaded:
            file = getattr(sys.modules[name], "__file__", None)
            if file and Path(file).resolve().is_relative_to(folder):
                del sys.modules[name]


def _import_main(folder: Path) -> Callable[[], Any]:
    path = folder / "main.py"
    if not path.is_file():
        raise _Failure(
            "validation",
            f"no main.py in {folder}",
            hint="create it with a main() that returns a DataFrame (`od init` writes an example)",
        )
    name = "_opendata_producer_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has a loader
        raise _Failure("unknown", f"cannot import {path}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise _Failure(
            "unknown",
            f"main.py:{exc.lineno}: SyntaxError: {exc.msg}",
            hint="fix the syntax error (`python main.py` shows it too)",
            cause=exc,
        ) from None
    except Exception as exc:
        raise _producer_failure(exc, folder, "main.py") from None
    finally:
        sys.modules.pop(name, None)
    func = getattr(module, "main", None)
    if not callable(func):
        raise _Failure(
            "validation",
            "main.py does not define main()",
            hint="add `def main():` that downloads the data and returns a DataFrame",
        )
    try:
        problem = main_arguments_problem(inspect.signature(func))
    except (TypeError, ValueError):  # no signature to read (a builtin): let the call decide
        problem = None
    if problem is not None:
        raise _Failure("validation", problem, hint=MAIN_ARGUMENTS_HINT)
    return func  # type: ignore[no-any-return]


def _is_frame(value: object) -> bool:
    module = type(value).__module__.split(".")[0]
    if module in ("pandas", "polars"):
        return hasattr(value, "columns")
    if module == "pyarrow":
        return type(value).__name__ in ("Table", "RecordBatch")
    return hasattr(value, "__arrow_c_stream__")


def _what(value: object) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}".removeprefix("builtins.")


_COLUMN_FIXES: Final = {
    # (library, type name): how to make a table of it
    ("pandas", "Series"): "return series.to_frame('name') (or series.reset_index() to keep the "
    "index as a column)",
    ("polars", "Series"): "return series.to_frame()",
    ("pyarrow", "Array"): "return pa.table({'name': array})",
    ("pyarrow", "ChunkedArray"): "return pa.table({'name': array})",
    ("numpy", "ndarray"): "return pd.DataFrame(array, columns=[...]) with a name per column",
}


def _not_a_table(value: object, what: str = "main() returned") -> _Failure | None:
    """A single column (a Series, an array) returned where a table was meant."""
    library = type(value).__module__.split(".")[0]
    kind = type(value).__name__
    fix = _COLUMN_FIXES.get((library, kind)) or _COLUMN_FIXES.get((library, kind.lstrip("_")))
    if fix is None and library == "pyarrow" and kind.endswith("Array"):
        fix = _COLUMN_FIXES[("pyarrow", "Array")]
    if fix is None:
        return None
    return _Failure(
        "validation",
        f"{what} a {library} {kind}, one column without a name, not a table",
        hint=f"{fix}: od run publishes a DataFrame (pandas or polars) or a pyarrow Table",
    )


def _collect(value: Any, folder: Path, producing: Callable[[], AbstractContextManager[Any]]) -> Any:
    """What ``main()`` returned, as ``Client.push`` takes it: a frame, a list, a stream, or None.

    A list (or tuple) is checked here and concatenated by the push. A stream (a polars
    ``LazyFrame``, a pyarrow ``RecordBatchReader`` or dataset, a generator or other iterator) is
    handed to the push as an iterator that checks each item as it comes, runs the producer's
    code inside ``producing()`` (its folder, as main() ran), and reports what that code raises
    as the producer's failure, not the publish's.
    """
    if value is None:
        return value
    if type(value).__name__ == "LazyFrame":  # polars: evaluated batch by batch by the push
        # Started at the first next(), inside producing(): polars runs the query on its own
        # threads from the moment collect_batches() is called, and a relative path in the
        # producer's scan must be opened while the working folder is the producer's.
        def batches() -> Iterator[Any]:
            yield from value.collect_batches()

        return _checked(batches(), folder, producing)
    if _is_frame(value):
        return value
    if (failure := _not_a_table(value)) is not None:
        raise failure
    plain = isinstance(value, str | bytes | Mapping)
    if not plain and callable(getattr(value, "to_batches", None)):
        return _checked(value.to_batches(), folder, producing)  # a pyarrow dataset
    if plain or not isinstance(value, Iterable):
        raise _Failure(
            "validation",
            f"main() returned a {_what(value)}",
            hint="return a pandas or polars DataFrame (or LazyFrame), a pyarrow Table, or a "
            "list or generator of them",
        )
    if isinstance(value, list | tuple):
        return list(_checked(iter(value), folder, contextlib.nullcontext))
    return _checked(iter(value), folder, producing)


def _checked(
    pieces: Iterator[Any], folder: Path, producing: Callable[[], AbstractContextManager[Any]]
) -> Iterator[Any]:
    """The items of what main() returned, each a frame, or a classified failure."""
    count = 0
    while True:
        try:
            with producing():
                piece = next(pieces)
        except StopIteration:
            return
        except Exception as exc:  # raised by the producer's generator or query: its failure
            raise _producer_failure(exc, folder) from None
        count += 1
        if not _is_frame(piece):
            what = f"main() returned an iterable whose item {count} is"
            if (failure := _not_a_table(piece, what)) is not None:
                raise failure
            raise _Failure(
                "validation",
                f"main() returned an iterable whose item {count} is a {_what(piece)}",
                hint="yield pandas or polars DataFrames or pyarrow Tables",
            )
        yield piece


@contextlib.contextmanager
def _env(**values: str | None) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
