"""The lines of a block copied out of the reader's buffer, stripped and without blanks, in one numba pass.

``RecordReader._cut_block`` hands on the lines of a block as one Arrow array. Filtering the block's lines with
Arrow, stripping them with polars and copying them back into one buffer for the OCPP byte scan copied each
line three times, into fresh memory each time (most of a shard's page faults). This copies each kept line once,
its bytes contiguous, as a ``large_string`` array lays them out.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _is_ascii_space(byte) -> bool:
    """What ``bytes.strip()`` strips: space, \\t, \\n, \\r, \\x0b, \\x0c."""
    return byte == 32 or 9 <= byte <= 13


@njit(cache=True)
def _stripped(data, starts, ends, chosen):
    """Per line, (start, stop) without its leading and trailing ASCII whitespace; stop == start when it is blank
    or not ``chosen``."""
    lines = starts.shape[0]
    bounds = np.empty((lines, 2), dtype=np.int64)
    for line in range(lines):
        start, stop = starts[line], ends[line]
        if chosen[line]:
            while start < stop and _is_ascii_space(data[start]):
                start += 1
            while stop > start and _is_ascii_space(data[stop - 1]):
                stop -= 1
        else:
            stop = start
        bounds[line, 0], bounds[line, 1] = start, stop
    return bounds


@njit(cache=True)
def kept_lines(data, starts, ends, chosen):
    """(bytes of the ``chosen`` lines that are not blank once stripped, joined; their Arrow offsets; their
    indexes among the block's lines). Line ``i`` is ``data[starts[i]:ends[i]]``."""
    bounds = _stripped(data, starts, ends, chosen)
    count, size = 0, 0
    for line in range(bounds.shape[0]):
        length = bounds[line, 1] - bounds[line, 0]
        if length > 0:
            count += 1
            size += length
    text = np.empty(size, dtype=np.uint8)
    offsets = np.zeros(count + 1, dtype=np.int64)
    kept = np.empty(count, dtype=np.int64)
    at, row = 0, 0
    for line in range(bounds.shape[0]):
        start, stop = bounds[line, 0], bounds[line, 1]
        if stop > start:
            text[at:at + stop - start] = data[start:stop]
            at += stop - start
            kept[row] = line
            row += 1
            offsets[row] = at
    return text, offsets, kept
