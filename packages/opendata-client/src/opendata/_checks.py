"""The checks every publish passes, for ``od.push`` and ``od run`` alike (one home for each rule).

:func:`table_from` turns what the caller gave into one Arrow table; :func:`check_table` refuses
data that must not be published: duplicate column names, no rows, a time column that is missing,
not a date or timestamp, or has nulls, and primary-key columns that are missing, have nulls or
repeat a key.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from opendata_core.errors import ColumnNotFound, InvalidData, first_line

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["check_piece", "check_rows", "check_table", "check_unique_key", "table_from"]


def table_from(data: Any, dataset_id: str) -> pa.Table:
    """One Arrow table from what a caller publishes.

    Accepted: a pandas or polars DataFrame (or LazyFrame), an Arrow table or batch, a
    Parquet/CSV path, or a list of those (concatenated).

    Raises:
        InvalidData: the values cannot be stored (mixed types in a column), or the pieces of a
            list do not share one schema.
        TypeError: ``data`` is none of the above.
    """
    import pyarrow as pa

    from opendata._arrow import to_table

    pieces = data if isinstance(data, list | tuple) else None
    for piece in pieces if pieces is not None else [data]:
        # pandas refuses repeated names with a bare ValueError: report them as the check does.
        if type(piece).__module__.split(".")[0] == "pandas":
            _check_unique_columns([str(c) for c in piece.columns], dataset_id)
    try:
        if pieces is None:
            return to_table(data)
        tables = []
        for i, piece in enumerate(pieces, 1):
            try:
                tables.append(to_table(piece))
            except TypeError:
                raise TypeError(
                    f"cannot push a list whose item {i} is a {type(piece).__name__}: pass a "
                    "list of pandas or polars DataFrames or pyarrow Tables"
                ) from None
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise InvalidData(
            f"{dataset_id}: the data cannot be stored: {first_line(exc)}",
            dataset_id=dataset_id,
            hint="give every column one type, e.g. df['x'] = pd.to_numeric(df['x'])",
        ) from None
    if not tables:
        return pa.table({})  # an empty list: 0 rows, reported by check_table
    try:
        return pa.concat_tables(tables, promote_options="default")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidData(
            f"{dataset_id}: the {len(tables)} tables do not share one schema: {first_line(exc)}",
            dataset_id=dataset_id,
            hint="make every piece have the same columns and types",
        ) from None


def _value_text(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return repr(value)


def _check_unique_columns(names: list[str], dataset_id: str) -> None:
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InvalidData(
            f"{dataset_id}: duplicate column name(s): {', '.join(duplicated)}",
            dataset_id=dataset_id,
            column=duplicated[0],
            hint="give every column a distinct name",
        )


def _missing_column(dataset_id: str, column: str, names: list[str], hint: str) -> ColumnNotFound:
    err = ColumnNotFound(dataset_id, column, names)
    close = difflib.get_close_matches(column, names, n=1)
    err.hint = (f"did you mean {close[0]!r}? " if close else "") + hint
    return err


def check_table(
    table: pa.Table,
    dataset_id: str,
    *,
    time_column: str | None,
    primary_key: Sequence[str] = (),
) -> None:
    """Refuse data that must not be published; each failure is one message with a hint.

    Raises:
        InvalidData: duplicate column names, 0 rows, a time column of the wrong type or with
            nulls, primary-key nulls or repeated keys.
        ColumnNotFound: the time column or a primary-key column is not in the data.
    """
    _check_unique_columns(table.column_names, dataset_id)
    check_rows(table.num_rows, dataset_id)
    check_piece(table, dataset_id, time_column=time_column, primary_key=primary_key)
    check_unique_key(table, dataset_id, primary_key)


def check_rows(rows: int, dataset_id: str) -> None:
    """Refuse to publish no rows.

    Raises:
        InvalidData: ``rows`` is 0.
    """
    if rows == 0:
        raise InvalidData(
            f"{dataset_id}: refusing to publish an empty table (0 rows); nothing was published",
            dataset_id=dataset_id,
            hint="check what the source sent",
        )


def check_piece(
    table: pa.Table,
    dataset_id: str,
    *,
    time_column: str | None,
    primary_key: Sequence[str] = (),
) -> None:
    """The rules each piece of the data passes on its own (a streamed push checks every batch).

    Raises:
        InvalidData: duplicate column names, a time column of the wrong type or with nulls,
            primary-key nulls.
        ColumnNotFound: the time column or a primary-key column is not in the data.
    """
    import pyarrow as pa

    ds = dataset_id
    names = table.column_names
    _check_unique_columns(names, ds)
    tc = time_column
    if tc is not None:
        if tc not in names:
            raise _missing_column(
                ds, tc, names, "name the column as time_column says (opendata.yaml), or fix it"
            )
        ttype = table.schema.field(tc).type
        if not (pa.types.is_date(ttype) or pa.types.is_timestamp(ttype)):
            raise InvalidData(
                f"{ds}: the time column {tc!r} has type {ttype}, not a date or timestamp",
                dataset_id=ds,
                column=tc,
                hint=f"convert it first, e.g. df[{tc!r}] = pd.to_datetime(df[{tc!r}])",
            )
        nulls = table.column(tc).null_count
        if nulls:
            raise InvalidData(
                f"{ds}: the time column {tc!r} has {nulls:,} empty value(s)",
                dataset_id=ds,
                column=tc,
                hint="drop or fill those rows before publishing",
            )
    keys = list(primary_key)
    for k in keys:
        if k not in names:
            raise _missing_column(
                ds, k, names, "return the primary_key columns, or fix primary_key in opendata.yaml"
            )
    for k in keys:
        if table.column(k).null_count:
            raise InvalidData(
                f"{ds}: primary key column {k!r} has {table.column(k).null_count:,} empty value(s)",
                dataset_id=ds,
                column=k,
                hint="every row needs a complete key: drop or fix those rows",
            )


def check_unique_key(table: pa.Table, dataset_id: str, primary_key: Sequence[str]) -> None:
    """Refuse a primary key that repeats in ``table``.

    Raises:
        InvalidData: a key appears more than once (the message gives the count and an example).
    """
    import pyarrow.compute as pc

    ds = dataset_id
    keys = list(primary_key)
    if not keys:
        return
    counts = table.select(keys).group_by(keys, use_threads=False).aggregate([([], "count_all")])
    dups = counts.filter(pc.greater(counts.column("count_all"), 1))
    if dups.num_rows:
        extra = pc.sum(dups.column("count_all")).as_py() - dups.num_rows
        first = dups.slice(0, 1).to_pylist()[0]
        example = ", ".join(f"{k}={_value_text(first[k])}" for k in keys)
        label = keys[0] if len(keys) == 1 else f"({', '.join(keys)})"
        raise InvalidData(
            f"{ds}: primary key {label} is not unique: {extra:,} duplicate row(s) over "
            f"{dups.num_rows:,} key(s), e.g. {example} appears {first['count_all']} times",
            dataset_id=ds,
            column=keys[0],
            hint="drop the duplicates (e.g. df.drop_duplicates(...)), or fix primary_key in "
            "opendata.yaml",
        )
