"""Helpers for OCPI payloads in either key casing and in versions 2.1.1 / 2.2.1 / 2.3.0.

Timestamps and numbers are read by the ingest guards (assets/ingest/common/guards.py).
"""

from __future__ import annotations

from typing import Any

# One key-casing rule for the whole project: the engine's.
from tariff_engine.adapters.ocpi import snake_keys as _engine_snake_keys

__all__ = ["snake_keys"]

_CONVERTED: dict[str, str] = {}


def _snake(key: Any) -> Any:
    if not isinstance(key, str):
        return key
    converted = _CONVERTED.get(key)
    if converted is None:
        converted = next(iter(_engine_snake_keys({key: None})))
        if len(_CONVERTED) < 100_000:  # bounded: hostile input must not grow it without end
            _CONVERTED[key] = converted
    return converted


def snake_keys(value: Any) -> Any:
    """The engine's `snake_keys`, with each key's conversion memoised and scalars not visited: CDRs and pages
    repeat the same few dozen keys, and converting them was most of the cost of reading a CDR."""
    if isinstance(value, dict):
        return {_snake(key): snake_keys(item) if isinstance(item, (dict, list)) else item for key, item in value.items()}
    if isinstance(value, list):
        return [snake_keys(item) if isinstance(item, (dict, list)) else item for item in value]
    return value
