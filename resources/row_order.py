"""The order a table's rows are stored in (its sort key, nulls last, stable), from integer keys and numpy's lexsort.

polars' ``DataFrame.sort`` on several columns encodes every row of every key column, strings byte by byte, before
it sorts: on 1.5 million meter readings and their eight keys (charge point, transaction, time, measurand, phase,
location, context, record ref) that took 2.4 CPU-s, 14 % of ``meter_readings``. The same order from integer keys
took 0.8: each key becomes one or two integer arrays (a null flag where the column has nulls, then the value: a
number's own bits, a string's rank among the column's distinct values) and ``numpy.lexsort``, which is stable,
orders the rows. A last string key is ranked only on the rows that still tie on the keys before it (the others
are already in place), so a record ref that only breaks the rare ties costs next to nothing.

A single key, or a key of another type (floats, decimals, categoricals: their order has rules of their own), is
left to polars.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

# A string key with at most this many distinct values (in the rows ranked) is ranked through an Enum of its sorted
# values, a hash lookup per row; one with more through a sort of the column.
_FEW_DISTINCT = 1 << 16


def sorted_rows(frame: pl.DataFrame, columns: Sequence[str], nulls_last: bool = True) -> pl.DataFrame:
    """``frame.sort(columns, nulls_last=nulls_last, maintain_order=True)``, the same rows in the same order."""
    if frame.height < 2 or not columns:
        return frame
    order = sort_order(frame, columns, nulls_last)
    if order is None:
        return frame.sort(list(columns), nulls_last=nulls_last, maintain_order=True)
    return frame.select(pl.all().gather(order))


def sort_order(frame: pl.DataFrame, columns: Sequence[str], nulls_last: bool = True) -> pl.Series | None:
    """The row positions of ``frame`` sorted by ``columns`` (nulls last or first, ties in their order), or None
    where the columns are one or of a type this does not rank (polars then sorts)."""
    if len(columns) < 2 or not all(_ranked(frame.schema[c]) for c in columns):
        return None
    keys: list[np.ndarray] = []  # most significant first
    last = len(columns) - 1
    for index, name in enumerate(columns):
        column = frame.get_column(name)
        if column.dtype != pl.String:
            keys += _number_keys(column, nulls_last)
        elif index == last:
            order = np.lexsort(keys[::-1])
            tied = _tied(keys, order)
            if not tied.any():  # every row is placed by the keys before, and the last decides nothing
                return pl.Series("order", order, dtype=pl.Int64())
            keys += _string_keys(column, np.flatnonzero(tied), nulls_last)
        else:
            keys += _string_keys(column, None, nulls_last)
    return pl.Series("order", np.lexsort(keys[::-1]), dtype=pl.Int64())


def _tied(keys: list[np.ndarray], order: np.ndarray) -> np.ndarray:
    """Which rows share all ``keys`` with another row, given the rows' ``order`` by those keys (equal rows are
    neighbours there). Comparing neighbours is a fraction of hashing every row's keys (``is_duplicated``)."""
    same = np.ones(max(len(order) - 1, 0), dtype=np.bool_)
    for key in keys:
        in_order = key[order]
        same &= in_order[1:] == in_order[:-1]
    tied_in_order = np.zeros(len(order), dtype=np.bool_)
    tied_in_order[1:] |= same
    tied_in_order[:-1] |= same
    tied = np.empty(len(order), dtype=np.bool_)
    tied[order] = tied_in_order
    return tied


_INTEGERS = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64)


def _ranked(dtype: pl.DataType) -> bool:
    return dtype == pl.String or dtype == pl.Boolean or dtype in _INTEGERS or dtype.is_temporal()


def _with_null_flag(values: pl.Series, nulls_last: bool) -> list[np.ndarray]:
    """[null flag,] the values with nulls as 0, as numpy arrays."""
    filled = values.fill_null(0).to_numpy()
    if not values.null_count():
        return [filled]
    flag = values.is_null() if nulls_last else values.is_not_null()
    return [flag.to_numpy(), filled]


def _number_keys(column: pl.Series, nulls_last: bool) -> list[np.ndarray]:
    """A boolean, integer or temporal column: its physical values (a date's days, an instant's microseconds...)."""
    return _with_null_flag(column.to_physical() if column.dtype.is_temporal() else column.cast(pl.UInt8)
                           if column.dtype == pl.Boolean else column, nulls_last)


def _string_keys(column: pl.Series, rows: np.ndarray | None, nulls_last: bool) -> list[np.ndarray]:
    """A string column's rank among its distinct values in byte order, on ``rows`` only when given (0 on the
    others)."""
    part = column if rows is None else column.gather(rows)
    distinct = part.drop_nulls().unique()
    if distinct.len() <= _FEW_DISTINCT:
        ranks = part.cast(pl.Enum(distinct.sort())).to_physical() if distinct.len() else part.is_null().cast(pl.UInt32)
        keys = _with_null_flag(ranks, nulls_last)
    else:
        # Rank by sorting: equal neighbours in sorted order share a rank, nulls (sorted first or last) theirs.
        order = part.arg_sort(nulls_last=nulls_last)
        in_order = part.gather(order)
        starts = in_order.ne_missing(in_order.shift(1)).fill_null(True)
        ranks = np.empty(part.len(), dtype=np.int64)
        ranks[order.to_numpy()] = np.cumsum(starts.to_numpy())
        keys = [ranks]
    if rows is None:
        return keys
    full = []
    for key in keys:
        spread = np.zeros(column.len(), dtype=key.dtype)
        spread[rows] = key
        full.append(spread)
    return full
