"""Typed access to payload fields: a charger may send any JSON in any field, the ingest must not crash.

Each helper returns the value when it has the expected JSON type and None otherwise, so a hostile
field becomes an absent one (and the rule that needs it quarantines the record) instead of an
exception that would fail the whole partition.
"""

from __future__ import annotations

import json
import math


def as_text(value: object) -> str | None:
    """A JSON string, else None."""
    return value if isinstance(value, str) else None


def as_int(value: object) -> int | None:
    """A JSON integer (not a boolean), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_number(value: object) -> float | None:
    """A finite JSON number (not a boolean) as float, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def as_object(value: object) -> dict:
    """A JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def raw_text(value: object) -> str | None:
    """A field as sent, as text: strings as they are, anything else as its JSON (None stays None)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def hashable(value: object) -> str:
    """A canonical text of any JSON value, usable in keys and sets."""
    return json.dumps(value, sort_keys=True)
