"""Helpers for OCPI payloads in either key casing and in versions 2.1.1 / 2.2.1 / 2.3.0."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

# One key-casing rule for the whole project: the engine's.
from tariff_engine.adapters.ocpi import snake_keys

__all__ = ["decimal_of", "parse_utc", "snake_keys"]


def parse_utc(text: Any) -> dt.datetime:
    """An OCPI DateTime (always UTC; `Z` optional in 2.2.1) as an aware UTC datetime."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"not a timestamp: {text!r}")
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def decimal_of(value: Any) -> Decimal:
    """A JSON number as an exact Decimal (via its text, never via binary float arithmetic)."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a number: {value!r}")
    try:
        result = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result
