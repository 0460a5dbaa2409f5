"""Canonical payload text without a JSON decoder: a numba pass over the Arrow buffer of the payload column.

``ocpp_messages`` stores each payload as orjson writes it with sorted keys and no blanks. Decoding every
payload into Python objects and writing it back (``orjson.loads`` / ``orjson.dumps``, a Python loop) was a
fifth of ``ocpp_messages``. The scan writes the same bytes directly. It parses a payload into flat arrays
(each container's items, an object's sorted by key in UTF-8 byte order, which is code point order), then
writes it in one walk, so each byte is copied once and the blanks between tokens are dropped. It is
iterative: numba's cache cannot hold recursive functions (numba#6061).

It only copies what orjson would write back unchanged, and declines every other payload: a string with an
escape, a number orjson would rewrite (an exponent, a trailing zero, more than 15 significant digits, very
large or very small), a repeated key, nesting deeper than ``MAX_DEPTH``, a top level that is not an
object. The caller writes a declined payload with orjson, so the column is the same byte for byte.

It also takes the transaction id a payload names (``transactionId``; ``transactionInfo.transactionId``) by
``envelope._transaction_text``'s rule: a string or an integer as its text, none for "", null, objects,
lists and booleans; a decimal id is declined (Python writes floats its own way).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numba import njit

from assets.ingest.ocpp.json_bytes import (COLON, COMMA, DOT, MINUS, NINE, OPEN_LIST, OPEN_OBJECT, QUOTE, ZERO,
                                           blank_end, column_buffer, is_word, string_column, string_end, text_columns,
                                           word)

MAX_DEPTH = 64
_E, _UPPER_E = ord("e"), ord("E")
_TRUE, _FALSE, _NULL = word("true"), word("false"), word("null")
_K_TRANSACTION_ID, _K_TRANSACTION_INFO = word("transactionId"), word("transactionInfo")
_NO_ID, _DECLINE = -1, -2


@njit(cache=True, inline="always")
def _digits_end(data, p, end) -> int:
    while p < end and ZERO <= data[p] <= NINE:
        p += 1
    return p


@njit(cache=True)
def _number_end(data, p, end) -> int:
    """The index after the number at ``p`` when orjson writes its text back unchanged; -1 otherwise.

    Integers of up to 18 digits (not "-0"); decimals without exponent whose digits are the shortest that
    give their double (at most 15 significant digits, no trailing zero but "x.0"), from 0.0001 up to
    15 integer digits, where orjson writes plain decimals.
    """
    q = p
    negative = q < end and data[q] == MINUS
    if negative:
        q += 1
    first = q
    q = _digits_end(data, q, end)
    whole = q - first
    if whole == 0 or (whole > 1 and data[first] == ZERO):
        return -1
    if q < end and (data[q] == _E or data[q] == _UPPER_E):
        return -1
    if q >= end or data[q] != DOT:
        if whole > 18 or (negative and data[first] == ZERO):
            return -1
        return q
    fraction = q + 1
    q = _digits_end(data, fraction, end)
    if q == fraction or whole > 15 or (q < end and (data[q] == _E or data[q] == _UPPER_E)):
        return -1
    if q - fraction == 1 and data[fraction] == ZERO:
        return q
    if data[q - 1] == ZERO:
        return -1
    if data[first] == ZERO:
        leading = 0
        while data[fraction + leading] == ZERO:
            leading += 1
        if leading > 3:
            return -1
        significant = q - fraction - leading
    else:
        significant = whole + q - fraction
    return q if significant <= 15 else -1


# A parsed payload, in arrays reused from row to row: an item is a member of an object or an element of a
# list: (its key's text, without quotes, or -1 in a list; its value's bytes when it is not a container; the
# node of its value when it is one, else -1). A node is a container: (its opening bracket, its first item,
# its number of items); its items are contiguous in ``items`` and, in an object, sorted by key.
_KEY_START, _KEY_STOP, _VALUE_START, _VALUE_STOP, _CHILD = range(5)
_KIND, _FIRST, _COUNT = range(3)
_CLOSING = 2  # a closing bracket's byte is its opening bracket's plus two: "{" + 2 == "}", "[" + 2 == "]"


@njit(cache=True, inline="always")
def _key_order(data, a, b, pending) -> int:
    """-1, 0 or 1 as the key of pending item ``a`` sorts before, equal to or after that of ``b``."""
    a_start, b_start = pending[a, _KEY_START], pending[b, _KEY_START]
    a_length, b_length = pending[a, _KEY_STOP] - a_start, pending[b, _KEY_STOP] - b_start
    for i in range(min(a_length, b_length)):
        if data[a_start + i] != data[b_start + i]:
            return -1 if data[a_start + i] < data[b_start + i] else 1
    if a_length == b_length:
        return 0
    return -1 if a_length < b_length else 1


@njit(cache=True, inline="always")
def _push_item(data, p, end, pending, top, is_object):
    """Open the next item of a container at ``p`` (blanks skipped): in an object, read its key and colon.
    (index where its value starts, or -1; the pending count after it)."""
    if top == pending.shape[0]:
        return -1, top
    pending[top, _KEY_START] = -1
    if is_object:
        key_end = string_end(data, p, end)
        if key_end < 0:
            return -1, top
        pending[top, _KEY_START], pending[top, _KEY_STOP] = p + 1, key_end - 1
        p = blank_end(data, key_end, end)
        if p >= end or data[p] != COLON:
            return -1, top
        p += 1
    return blank_end(data, p, end), top + 1


@njit(cache=True)
def _close(data, opened, depth, pending, top, items, item_count, nodes, node_count, order) -> bool:
    """Move the pending items of the container open at ``depth`` to ``items`` (an object's sorted by key)
    as node ``node_count``; False when an object repeats a key."""
    start, kind = opened[depth, 0], opened[depth, 1]
    count = top - start
    for i in range(count):
        order[i] = start + i
    if kind == OPEN_OBJECT:
        for i in range(1, count):  # insertion sort: objects are small and often nearly sorted
            j = i
            while j > 0:
                c = _key_order(data, order[j - 1], order[j], pending)
                if c == 0:
                    return False
                if c < 0:
                    break
                order[j - 1], order[j] = order[j], order[j - 1]
                j -= 1
    for i in range(count):
        for field in range(5):
            items[item_count + i, field] = pending[order[i], field]
    nodes[node_count, _KIND], nodes[node_count, _FIRST], nodes[node_count, _COUNT] = kind, item_count, count
    return True


@njit(cache=True)
def _parse(data, p, end, pending, items, nodes, opened, order) -> int:
    """Parse the JSON container at ``p`` into ``items`` and ``nodes``; its node is the last one. The number of
    nodes (0 when the scan declines it, or when anything but blanks follows it before ``end``)."""
    depth, top, item_count, node_count = -1, 0, 0, 0
    while True:
        # A value starts at p.
        if p >= end:
            return 0
        c = data[p]
        if c == OPEN_OBJECT or c == OPEN_LIST:
            depth += 1
            if depth == MAX_DEPTH:
                return 0
            opened[depth, 0], opened[depth, 1] = top, c
            p = blank_end(data, p + 1, end)
            if p >= end or data[p] != c + _CLOSING:
                p, top = _push_item(data, p, end, pending, top, c == OPEN_OBJECT)
                if p < 0:
                    return 0
                continue
            _close(data, opened, depth, pending, top, items, item_count, nodes, node_count, order)
            child, p = node_count, p + 1
            node_count += 1
            depth -= 1
        else:
            if depth < 0:
                return 0
            e = _scalar_end(data, p, end)
            if e < 0:
                return 0
            pending[top - 1, _VALUE_START], pending[top - 1, _VALUE_STOP] = p, e
            child, p = -1, e
        # A value ended at p: close the containers it completes, or go on to the next item.
        while True:
            if depth < 0:
                return node_count if blank_end(data, p, end) == end else 0
            pending[top - 1, _CHILD] = child
            p = blank_end(data, p, end)
            if p >= end:
                return 0
            kind = opened[depth, 1]
            if data[p] == COMMA:
                p, top = _push_item(data, blank_end(data, p + 1, end), end, pending, top, kind == OPEN_OBJECT)
                if p < 0:
                    return 0
                break
            if data[p] != kind + _CLOSING:
                return 0
            if not _close(data, opened, depth, pending, top, items, item_count, nodes, node_count, order):
                return 0
            item_count += top - opened[depth, 0]
            top = opened[depth, 0]
            child, p = node_count, p + 1
            node_count += 1
            depth -= 1


@njit(cache=True, inline="always")
def _scalar_end(data, p, end) -> int:
    """The index after the string, number or literal at ``p`` when the scan copies it as it is; -1 otherwise."""
    c = data[p]
    if c == QUOTE:
        return string_end(data, p, end)
    if c == ord("t") or c == ord("f") or c == ord("n"):
        literal = _TRUE if c == ord("t") else (_FALSE if c == ord("f") else _NULL)
        e = p + literal.shape[0]
        return e if e <= end and is_word(data, p, e, literal) else -1
    return _number_end(data, p, end)


@njit(cache=True)
def _write(data, items, nodes, root, out, q, stack) -> int:
    """Write node ``root`` and everything in it to ``out[q:]``, items in node order, without blanks: each
    byte is copied once. The index after it in ``out``."""
    out[q] = nodes[root, _KIND]
    q += 1
    stack[0, 0], stack[0, 1] = root, 0
    depth = 1
    while depth:
        node, i = stack[depth - 1, 0], stack[depth - 1, 1]
        if i == nodes[node, _COUNT]:
            out[q] = nodes[node, _KIND] + _CLOSING
            q += 1
            depth -= 1
            continue
        stack[depth - 1, 1] = i + 1
        if i:
            out[q] = COMMA
            q += 1
        item = nodes[node, _FIRST] + i
        if items[item, _KEY_START] >= 0:
            out[q] = QUOTE
            q += 1
            for k in range(items[item, _KEY_START], items[item, _KEY_STOP]):
                out[q] = data[k]
                q += 1
            out[q] = QUOTE
            out[q + 1] = COLON
            q += 2
        child = items[item, _CHILD]
        if child >= 0:
            out[q] = nodes[child, _KIND]
            q += 1
            stack[depth, 0], stack[depth, 1] = child, 0
            depth += 1
        else:
            for k in range(items[item, _VALUE_START], items[item, _VALUE_STOP]):
                out[q] = data[k]
                q += 1
    return q


@njit(cache=True)
def _member(data, items, nodes, node, key) -> int:
    """The item of the member ``key`` of object node ``node``; -1 when it has none."""
    for item in range(nodes[node, _FIRST], nodes[node, _FIRST] + nodes[node, _COUNT]):
        if is_word(data, items[item, _KEY_START], items[item, _KEY_STOP], key):
            return item
    return -1


@njit(cache=True)
def _named_id(data, items, item):
    """(start, stop) of the transaction id text of ``item``'s value: (_NO_ID, _NO_ID) when it names none,
    (_DECLINE, _DECLINE) for a decimal."""
    if item < 0 or items[item, _CHILD] >= 0:
        return _NO_ID, _NO_ID
    p, end = items[item, _VALUE_START], items[item, _VALUE_STOP]
    c = data[p]
    if c == QUOTE:
        return (p + 1, end - 1) if end - p > 2 else (_NO_ID, _NO_ID)
    if c == MINUS or ZERO <= c <= NINE:
        for i in range(p, end):
            if data[i] == DOT:
                return _DECLINE, _DECLINE
        return p, end
    return _NO_ID, _NO_ID


@njit(cache=True)
def workspace(longest):
    """The arrays ``canonical_into`` parses a payload of up to ``longest`` bytes into, reused from row to row."""
    bound = longest // 2 + 1  # an item or a node takes at least two bytes of its payload
    return (np.empty((bound, 5), dtype=np.int64), np.empty((bound, 5), dtype=np.int64),
            np.empty((bound, 3), dtype=np.int64), np.empty(bound, dtype=np.int64),
            np.empty((MAX_DEPTH, 2), dtype=np.int64), np.empty((MAX_DEPTH, 2), dtype=np.int64))


@njit(cache=True)
def canonical_into(data, start, end, out, q, work, ids) -> int:
    """Write the canonical text of the payload ``data[start:end]`` to ``out[q:]`` and the (start, stop) in
    ``data`` of the transaction ids it names to ``ids`` (2 x 2, left as they are when it names none): the
    index after it in ``out``, or -1 when the scan declines it."""
    pending, items, nodes, order, opened, stack = work
    p = blank_end(data, start, end)
    if p >= end or data[p] != OPEN_OBJECT:
        return -1
    node_count = _parse(data, p, end, pending, items, nodes, opened, order)
    if node_count == 0:
        return -1
    root = node_count - 1
    named_start, named_stop = _named_id(data, items, _member(data, items, nodes, root, _K_TRANSACTION_ID))
    info_start, info_stop = _NO_ID, _NO_ID
    info = _member(data, items, nodes, root, _K_TRANSACTION_INFO)
    child = items[info, _CHILD] if info >= 0 else -1
    if child >= 0 and nodes[child, _KIND] == OPEN_OBJECT:
        info_start, info_stop = _named_id(data, items, _member(data, items, nodes, child, _K_TRANSACTION_ID))
    if named_start == _DECLINE or info_start == _DECLINE:
        return -1
    if named_start >= 0:
        ids[0, 0], ids[0, 1] = named_start, named_stop
    if info_start >= 0:
        ids[1, 0], ids[1, 1] = info_start, info_stop
    return _write(data, items, nodes, root, out, q, stack)


@njit(cache=True)
def _scan(data, offsets, out, out_offsets, ok, ids):
    rows = offsets.shape[0] - 1
    longest = 0
    for row in range(rows):
        longest = max(longest, offsets[row + 1] - offsets[row])
    work = workspace(longest)
    q = 0
    for row in range(rows):
        after = canonical_into(data, offsets[row], offsets[row + 1], out, q, work, ids[row])
        ok[row] = after >= 0
        if after >= 0:
            q = after
        out_offsets[row + 1] = q


def canonical_payloads(texts: pl.Series) -> tuple[np.ndarray, pl.DataFrame]:
    """(which payloads the scan read; their canonical text ``payload_json`` and the transaction ids they name,
    ``_tx_named`` and ``_tx_info``, null where declined or none).

    ``texts``: payload texts, without nulls. (``line_scan`` calls ``canonical_into`` on each frame's payload
    directly; this reads a column of payloads with the same function, e.g. to compare it with orjson.)
    """
    data, offsets = column_buffer(texts)
    rows = len(texts)
    out = np.empty(data.shape[0], dtype=np.uint8)  # the canonical text is never longer than the payload
    out_offsets = np.zeros(rows + 1, dtype=np.int64)
    ok = np.zeros(rows, dtype=np.bool_)
    ids = np.full((rows, 2, 2), _NO_ID, dtype=np.int64)
    _scan(data, offsets, out, out_offsets, ok, ids)
    out = out[:out_offsets[rows]]
    named, info_named = text_columns(data, ids, ("_tx_named", "_tx_info"))
    return ok, pl.DataFrame([string_column("payload_json", out_offsets, out, ok), named, info_named])
