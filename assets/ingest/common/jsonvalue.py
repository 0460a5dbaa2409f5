"""Decoding one JSON record safely, and the canonical form that decides whether two records are the same.

orjson parses (fast, and it refuses what would hurt later: NaN/Infinity, numbers that overflow a double
such as a 5,000-digit integer, invalid UTF-8 and lone surrogates). On top of it:

| limit | code | why |
|---|---|---|
| `MAX_RECORD_BYTES` (4 MiB a record) | RECORD_TOO_LARGE | a record is a CDR or a frame, never megabytes |
| `MAX_DOCUMENT_BYTES` (256 MiB a `.json` file) | DOCUMENT_TOO_LARGE | a page is read whole |
| `MAX_DEPTH` (64 levels of arrays/objects) | NESTING_TOO_DEEP | orjson allows 1,024, and recursive code after it (key conversion, canonical dumps) must not hit Python's recursion limit |

Integers beyond 64 bits that fit a double come back as floats; the value guards decide whether they are
in range.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import orjson
from numba import njit

from assets.quarantine import Rejected

MAX_RECORD_BYTES = 4 * 1024 * 1024
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024
MAX_DEPTH = 64


def decode_json(data: bytes | str, *, max_bytes: int = MAX_RECORD_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """One JSON text → its value; Rejected MALFORMED_JSON, RECORD_TOO_LARGE or NESTING_TOO_DEEP."""
    if len(data) > max_bytes:
        raise Rejected("RECORD_TOO_LARGE", f"record is {len(data)} bytes, more than {max_bytes}")
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            raise Rejected("NESTING_TOO_DEEP", f"nested deeper than {max_depth} levels") from exc
        raise Rejected("MALFORMED_JSON", f"not JSON: {exc}") from exc
    # Each nesting level needs an opening bracket, so a record with fewer brackets than the limit is shallow
    # enough without scanning it (the common case). orjson refused lone surrogates, so a str encodes.
    text = data if isinstance(data, bytes) else data.encode()
    if text.count(b"[") + text.count(b"{") > max_depth and text_depth(np.frombuffer(text, np.uint8)) > max_depth:
        raise Rejected("NESTING_TOO_DEEP", f"nested deeper than {max_depth} levels")
    return value


@njit(cache=True)
def text_depth(text) -> int:
    """How deep the arrays/objects of a valid JSON text (UTF-8 bytes) nest: its deepest bracket outside a
    string. One pass over the bytes: walking the decoded value instead cost nearly half of reading a page of
    records (a multi-byte character never contains an ASCII byte, so brackets and quotes are what they seem)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in text:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 92:  # backslash
                escaped = True
            elif byte == 34:  # quote
                in_string = False
        elif byte == 34:
            in_string = True
        elif byte == 91 or byte == 123:  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte == 93 or byte == 125:  # ] }
            depth -= 1
    return deepest


def canonical_bytes(value: Any, *, sort_keys: bool = True) -> bytes:
    """The compact JSON text of a value (keys sorted by default): equal values, equal bytes."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else 0)


def content_digest(value: Any) -> bytes:
    """A 16-byte digest of a value's canonical text: a compact key for "same record, same content?"."""
    return hashlib.blake2b(canonical_bytes(value), digest_size=16).digest()
