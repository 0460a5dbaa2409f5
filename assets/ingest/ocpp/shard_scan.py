"""The shard of each landing line read from its bytes, before the line is decoded (``shards.Shard.mine``).

A split date is read by every shard's worker, and each keeps its own lines. Cutting, decoding and reading the
charge point of every line of the date (``shards.line_owners``) cost each worker as much as the whole date; this scan
places nearly every line from its bytes, so a worker decodes only its own lines (and, to place them, the few
the scan cannot).

It is a conservative fast path of ``line_owners``' rule (the first match of ``_CHARGE_POINT_TEXT``, CRC-32 of
the value): a line is placed only when the first ``"charge_point_id"`` in it is followed by ASCII blanks, a
colon, ASCII blanks and a plain ASCII string (no backslash). Anything else (a Unicode blank or a non-ASCII
byte where the regex would look, an escape, no closing quote, no key) is left unplaced (-1), and ``Shard.mine``
decodes that line and applies the rule itself. A placed line gets the shard that rule gives it: the bytes
matched are ASCII, so decoding (even with replacement elsewhere in the line) and stripping do not change them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from assets.ingest.ocpp.json_bytes import BACKSLASH, COLON, QUOTE, is_word, word

_KEY = word('"charge_point_id"')


def _crc_table() -> np.ndarray:
    """The byte table of CRC-32 (the reflected polynomial 0xEDB88320 that ``zlib.crc32`` uses)."""
    table = np.zeros(256, dtype=np.uint32)
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xEDB88320 if crc & 1 else crc >> 1
        table[byte] = crc
    return table


_CRC_TABLE = _crc_table()


@njit(cache=True)
def crc32(data, start, stop) -> int:
    """``zlib.crc32(data[start:stop])``."""
    crc = np.uint32(0xFFFFFFFF)
    for i in range(start, stop):
        crc = _CRC_TABLE[(crc ^ data[i]) & np.uint32(0xFF)] ^ (crc >> np.uint32(8))
    return int(crc ^ np.uint32(0xFFFFFFFF))


@njit(cache=True, inline="always")
def _is_ascii_blank(byte) -> bool:
    return byte == 32 or 9 <= byte <= 13


@njit(cache=True)
def _key_at(data, start, stop) -> int:
    """The index of the first ``"charge_point_id"`` in ``data[start:stop]``, -1 when there is none."""
    size = _KEY.shape[0]
    for p in range(start, stop - size + 1):
        if data[p] == QUOTE and is_word(data, p, p + size, _KEY):
            return p
    return -1


@njit(cache=True)
def _placed(data, start, stop, count) -> int:
    """The shard of one line, or -1 when the bytes do not settle it (see the module's docstring)."""
    p = _key_at(data, start, stop)
    if p < 0:
        return -1
    p += _KEY.shape[0]
    while p < stop and _is_ascii_blank(data[p]):
        p += 1
    if p >= stop or data[p] != COLON:
        return -1
    p += 1
    while p < stop and _is_ascii_blank(data[p]):
        p += 1
    if p >= stop or data[p] != QUOTE:
        return -1
    value = p + 1
    q = value
    while q < stop:
        byte = data[q]
        if byte == QUOTE:
            return crc32(data, value, q) % count
        if byte == BACKSLASH or byte >= 0x80:
            return -1
        q += 1
    return -1


@njit(cache=True)
def line_shards(data, starts, ends, count):
    """For each line ``data[starts[i]:ends[i]]``: its shard of ``count``, or -1 when the bytes do not settle it."""
    shards = np.empty(starts.shape[0], dtype=np.int64)
    for i in range(starts.shape[0]):
        shards[i] = _placed(data, starts[i], ends[i], count)
    return shards


@njit(cache=True)
def string_crcs(data, offsets):
    """``zlib.crc32`` of each string of an Arrow string column (its bytes and offsets)."""
    crcs = np.empty(offsets.shape[0] - 1, dtype=np.int64)
    for i in range(crcs.shape[0]):
        crcs[i] = crc32(data, offsets[i], offsets[i + 1])
    return crcs
