"""Helpers for OCPI payloads in either key casing and in versions 2.1.1 / 2.2.1 / 2.3.0.

Timestamps and numbers are read by the ingest guards (assets/ingest/common/guards.py).
"""

from __future__ import annotations

# One key-casing rule for the whole project: the engine's (memoised, scalars not visited).
from tariff_engine.adapters.ocpi import snake_keys

__all__ = ["snake_keys"]
