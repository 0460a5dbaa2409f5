"""Byte-level JSON helpers shared by the numba scans of payload columns (``payload_scan``, ``meter_scan``).

The scans walk the Arrow buffer of a string column: ``column_buffer`` gives its bytes and offsets, and
``string_column`` builds a String column back from bytes and offsets without a Python object per row.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
from numba import njit

QUOTE, BACKSLASH, COLON, COMMA = ord('"'), ord("\\"), ord(":"), ord(",")
OPEN_OBJECT, CLOSE_OBJECT, OPEN_LIST, CLOSE_LIST = ord("{"), ord("}"), ord("["), ord("]")
MINUS, DOT, ZERO, NINE = ord("-"), ord("."), ord("0"), ord("9")


def word(text: str) -> np.ndarray:
    """``text`` as a byte array (numba freezes global arrays into the compiled code)."""
    return np.frombuffer(text.encode(), dtype=np.uint8)


@njit(cache=True, inline="always")
def is_word(data, start, stop, expected) -> bool:
    """Whether ``data[start:stop]`` is the bytes ``expected``."""
    if stop - start != expected.shape[0]:
        return False
    for i in range(expected.shape[0]):
        if data[start + i] != expected[i]:
            return False
    return True


@njit(cache=True, inline="always")
def blank_end(data, p, end) -> int:
    """The index after the JSON blanks (space, tab, newline, return) at ``p``."""
    while p < end and (data[p] == 32 or data[p] == 9 or data[p] == 10 or data[p] == 13):
        p += 1
    return p


@njit(cache=True, inline="always")
def string_end(data, p, end) -> int:
    """The index after the string opening at ``p`` (-1: not a plain string: an escape or a control byte)."""
    if p >= end or data[p] != QUOTE:
        return -1
    q = p + 1
    while q < end:
        c = data[q]
        if c == QUOTE:
            return q + 1
        if c == BACKSLASH or c < 0x20:
            return -1
        q += 1
    return -1


@njit(cache=True)
def value_end(data, p, end) -> int:
    """The index after the JSON value at ``p`` in canonical JSON (no blanks; -1 when it is not one: a string
    with an escape...). A number or literal runs to the next delimiter; its text is not checked."""
    if p >= end:
        return -1
    c = data[p]
    if c == QUOTE:
        return string_end(data, p, end)
    if c == OPEN_OBJECT or c == OPEN_LIST:
        depth = 0
        q = p
        while q < end:
            c = data[q]
            if c == QUOTE:
                q = string_end(data, q, end)
                if q < 0:
                    return -1
                continue
            if c == OPEN_OBJECT or c == OPEN_LIST:
                depth += 1
            elif c == CLOSE_OBJECT or c == CLOSE_LIST:
                depth -= 1
                if depth == 0:
                    return q + 1
            q += 1
        return -1
    q = p  # a number or a literal: up to the next delimiter
    while q < end and data[q] != COMMA and data[q] != CLOSE_OBJECT and data[q] != CLOSE_LIST:
        q += 1
    return q if q > p else -1


@njit(cache=True)
def _cut(data, spans):
    """The bytes of every span of every field, and their Arrow offsets: (offsets per field, bytes, where each
    field's bytes start in them). A null span (start -1) is empty. Row by row, so the bytes of a sampled value
    are fetched from memory once for all its fields."""
    rows, fields = spans.shape[0], spans.shape[1]
    offsets = np.zeros((fields, rows + 1), dtype=np.int64)
    for field in range(fields):
        for row in range(rows):
            start = spans[row, field, 0]
            offsets[field, row + 1] = offsets[field, row] + (spans[row, field, 1] - start if start >= 0 else 0)
    bases = np.zeros(fields + 1, dtype=np.int64)
    for field in range(fields):
        bases[field + 1] = bases[field] + offsets[field, rows]
    chars = np.empty(bases[fields], dtype=np.uint8)
    for row in range(rows):
        for field in range(fields):
            start = spans[row, field, 0]
            if start >= 0:
                at = bases[field] + offsets[field, row]
                for i in range(start, spans[row, field, 1]):
                    chars[at] = data[i]
                    at += 1
    return offsets, chars, bases


def text_columns(data: np.ndarray, spans: np.ndarray, names: tuple[str, ...]) -> list[pl.Series]:
    """A String column per field of ``spans`` (rows x fields x (start, stop)), named ``names``."""
    offsets, chars, bases = _cut(data, spans)
    return [string_column(name, offsets[field], chars[bases[field]:bases[field + 1]], spans[:, field, 0] >= 0)
            for field, name in enumerate(names)]


def string_column(name: str, offsets: np.ndarray, chars: np.ndarray, valid: np.ndarray) -> pl.Series:
    """A String column from Arrow buffers (null where not ``valid``), without a Python object per row."""
    mask = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pl.Series(name, pa.LargeStringArray.from_buffers(len(valid), pa.py_buffer(offsets), pa.py_buffer(chars),
                                                            mask))


def column_buffer(column: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(bytes, offsets) of a string column without nulls, as Arrow lays them out."""
    array = column.rechunk().to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array_buffer(array)


def array_buffer(array: pa.LargeStringArray) -> tuple[np.ndarray, np.ndarray]:
    """(bytes, offsets) of a ``large_string`` array without nulls, its own buffers (nothing copied)."""
    _validity, offsets, data = array.buffers()
    offsets = np.frombuffer(offsets, dtype=np.int64)[array.offset:array.offset + len(array) + 1]
    return np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8), offsets
