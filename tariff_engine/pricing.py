"""Batch pricing through the numba kernels: model objects, parsed OCPI JSON, or polars frames in.

- `price_sessions(tariffs, sessions, tariff_indexes)`: canonical objects in, `PricingResult`s out.
- `price_cdrs(cdrs, tariffs, timezone=None)`: parsed OCPI CDR and tariff JSON in, JSON-shaped totals out,
  one per CDR; a bad CDR gets an `error` entry and never stops the batch.
- `price_frame(sessions, periods, tariffs)`: the pipeline entry point (polars in, polars out).

Each path has a fast lane that gives the same results to the last digit (tests/engine/test_fast_paths.py):
sessions are encoded column-wise (`encode`), well-formed CDRs are scanned straight into columns
(`cdr_scan`; anything unusual goes the object way, which words its errors), results are formatted from the
kernel's integers (`render`), and frames are encoded chunk by chunk into one reused buffer.
"""

from __future__ import annotations

# One job per module; this one keeps the public import path of every batch entry point.
from .batch import (  # noqa: F401
    _EMPTY_TARIFF, _ERROR_MESSAGES, _ROW_ORDER, _compile_each, _with_error, decode_outcome, price_sessions,
)
from .cdr_json import _tariff_for, price_cdrs, result_to_json  # noqa: F401
from .frames import PERIOD_COLUMNS, SESSION_COLUMNS, frame_from_output, price_frame  # noqa: F401
