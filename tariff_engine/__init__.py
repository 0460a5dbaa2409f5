"""ChargeLedger tariff engine: canonical tariffs, a Decimal reference pricer and numba batch kernels.

Public API (stable; everything else is internal):
- model types: `Tariff`, `TariffElement`, `PriceComponent`, `TariffRestrictions`, `PriceLimit`, `TaxRate`,
  `Session`, `SessionPeriod`, `PricingResult`, `Amount`, `BreakdownRow`;
- policies: `PricingPolicy`, `RoundingPolicy`;
- adapters: `parse_tariff(json)`, `parse_cdr(json, timezone=None)`, `tariff_to_json(tariff)`;
- pricing: `price_session(tariff, session, policy)` (Decimal reference), `price_sessions(tariffs, sessions,
  tariff_indexes, policy, breakdown)` (kernels), `price_cdrs(cdrs, tariffs, timezone=None)` (OCPI JSON in,
  JSON out), `price_cdrs_file(path_or_bytes, tariffs=None, timezone=None)` (an NDJSON file of CDRs, columnar,
  polars out), `price_frame(sessions, periods, tariffs)` (polars in and out);
- `lint_document(json)` / `lint_tariff(tariff)`.
"""

from .model import (
    Amount,
    BreakdownRow,
    PriceComponent,
    PriceLimit,
    PricingResult,
    Session,
    SessionPeriod,
    Tariff,
    TariffElement,
    TariffModelError,
    TariffRestrictions,
    TaxAmount,
    TaxRate,
)
from importlib import import_module
from typing import Any

from .adapters.ocpi import OcpiFormatError, parse_cdr, parse_tariff, tariff_to_json
from .money import RoundingPolicy
from .policy import PricingPolicy

# Loaded on first use, so `import tariff_engine.model` stays light (no numba, polars or pyarrow import).
_LAZY = {
    "price_cdrs": "cdr_json", "price_cdrs_file": "cdr_files", "price_frame": "frames", "price_sessions": "batch",
    "price_session": "reference",
    "Finding": "lint", "lint_document": "lint", "lint_tariff": "lint",
}


def __getattr__(name: str) -> Any:
    """Resolve the lazily imported public names (PEP 562)."""
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Finding",
    "OcpiFormatError",
    "lint_document",
    "lint_tariff",
    "parse_cdr",
    "parse_tariff",
    "price_cdrs",
    "price_cdrs_file",
    "price_frame",
    "price_session",
    "price_sessions",
    "tariff_to_json",
    "Amount",
    "BreakdownRow",
    "PriceComponent",
    "PriceLimit",
    "PricingPolicy",
    "PricingResult",
    "RoundingPolicy",
    "Session",
    "SessionPeriod",
    "Tariff",
    "TariffElement",
    "TariffModelError",
    "TariffRestrictions",
    "TaxAmount",
    "TaxRate",
]
