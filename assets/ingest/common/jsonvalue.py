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

import orjson

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
    # enough without walking it (the common case).
    brackets = data.count(b"[") + data.count(b"{") if isinstance(data, bytes) else data.count("[") + data.count("{")
    if brackets > max_depth and depth_exceeds(value, max_depth):
        raise Rejected("NESTING_TOO_DEEP", f"nested deeper than {max_depth} levels")
    return value


def depth_exceeds(value: Any, limit: int) -> bool:
    """True when arrays/objects nest more than `limit` levels (iterative: no recursion to overflow)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def canonical_bytes(value: Any, *, sort_keys: bool = True) -> bytes:
    """The compact JSON text of a value (keys sorted by default): equal values, equal bytes."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else 0)


def content_digest(value: Any) -> bytes:
    """A 16-byte digest of a value's canonical text: a compact key for "same record, same content?"."""
    return hashlib.blake2b(canonical_bytes(value), digest_size=16).digest()
