"""The moments a tariff's price could change, derived from the canonical tariff model.

OCPI requires a new charging period "every moment/event that has relevance for the total costs"
(tariffs-and-metering.md §1.2). From a `tariff_engine.model.Tariff` we collect, over all elements:

- local wall-clock edges: every `start_time` / `end_time` (an absent end means midnight), plus midnight
  when any element uses `day_of_week`, `start_date` or `end_date` (those switch at local midnight);
- kWh thresholds (`min_kwh`, `max_kwh`, session energy so far), duration thresholds (`min_duration`,
  `max_duration`, seconds since session start), idle thresholds (`min_idle_duration`,
  `max_idle_duration`, seconds since charging ended);
- power thresholds (`min_power`, `max_power`, kW) and current thresholds (`min_current`,
  `max_current`, A summed over phases), crossed by the measured curve.

Charging/parking switches are always cut, whatever the tariff. When an ENERGY component follows an
electricity rate, the rate's own slot edges are added as wall-clock edges too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from tariff_engine.consumption.electricity import ElectricityRate
from tariff_engine.model import Tariff
from tariff_engine.spec import THRESHOLDS

SECONDS_PER_DAY = 86400


@dataclass(frozen=True)
class PriceChangeRules:
    """Where a session must be cut, in the kernel's units (seconds of local day, Wh, s, W, A)."""

    time_edges_s: tuple[int, ...] = ()
    kwh_thresholds_wh: tuple[float, ...] = ()
    duration_thresholds_s: tuple[int, ...] = ()
    idle_thresholds_s: tuple[int, ...] = ()
    power_thresholds_w: tuple[float, ...] = ()
    current_thresholds_a: tuple[float, ...] = ()


NO_RULES = PriceChangeRules()
"""Sessions without a tariff are still cut at charging/parking switches."""


def _sorted_unique(values: Iterable) -> tuple:
    return tuple(sorted(set(values)))


# The cutter's edge list fed by each period-cutting quantity of the spec table (`spec.THRESHOLDS` rows with
# `cuts_periods`), the factor from the spec unit to the cutter's unit, and whether a zero threshold cuts (an
# idle threshold of 0 is crossed when charging ends; the others are never crossed at 0).
_EDGES_OF_QUANTITY: dict[str, tuple[str, int, bool]] = {
    "energy_before": ("kwh_thresholds_wh", 1000, False),
    "since_start": ("duration_thresholds_s", 1, False),
    "idle": ("idle_thresholds_s", 1, True),
    "min_power": ("power_thresholds_w", 1000, False), "max_power": ("power_thresholds_w", 1000, False),
    "min_current": ("current_thresholds_a", 1, False), "max_current": ("current_thresholds_a", 1, False),
}
_CUTTING = tuple(spec for spec in THRESHOLDS if spec.cuts_periods)
_unknown = {spec.quantity for spec in _CUTTING} - set(_EDGES_OF_QUANTITY)
if _unknown:  # a new cutting quantity in the spec table needs its edge list here (and in the kernel)
    raise ImportError(f"price_changes: no cutter edge for quantities {sorted(_unknown)}")


def rules_from_tariff(tariff: Tariff, electricity_rate: ElectricityRate | None = None) -> PriceChangeRules:
    """Collect every restriction boundary of `tariff` (see module docstring); thresholds from the spec table."""
    edges: list[int] = []
    thresholds: dict[str, list] = {field: [] for field, _, _ in _EDGES_OF_QUANTITY.values()}
    for element in tariff.elements:
        r = element.restrictions
        if r is None:
            continue
        for moment in (r.start_time, r.end_time):
            if moment is not None:
                edges.append(moment.hour * 3600 + moment.minute * 60 + moment.second)
        if r.start_time is not None and r.end_time is None:
            edges.append(0)
        if r.day_of_week or r.start_date or r.end_date:
            edges.append(0)
        for spec in _CUTTING:
            value = getattr(r, spec.name)
            field, factor, zero_cuts = _EDGES_OF_QUANTITY[spec.quantity]
            if value is not None and (value > 0 or (zero_cuts and value == 0)):
                scaled = value * factor
                thresholds[field].append(int(scaled) if spec.kind == "SECONDS" else float(scaled))
    if electricity_rate is not None and tariff.electricity_rate_required:
        edges += rate_edges_s(electricity_rate)
    return PriceChangeRules(time_edges_s=_sorted_unique(e % SECONDS_PER_DAY for e in edges),
                            **{field: _sorted_unique(values) for field, values in thresholds.items()})


def rate_edges_s(rate: ElectricityRate) -> list[int]:
    """Wall-clock edges of an electricity rate's slots, plus midnight (its tables switch by day)."""
    edges = [0]
    tables = list(rate.week_day_periods.values()) + list(rate.date_periods.values())
    for periods in tables:
        for period in periods:
            edges += [period.start_minute * 60, (period.end_minute % 1440) * 60]
    return edges


@dataclass(frozen=True)
class PackedRules:
    """Several `PriceChangeRules` CSR packed for the splitting kernel (rule set r owns ptr[r]:ptr[r+1])."""

    edge_ptr: np.ndarray
    edge_s: np.ndarray
    kwh_ptr: np.ndarray
    kwh_wh: np.ndarray
    duration_ptr: np.ndarray
    duration_s: np.ndarray
    idle_ptr: np.ndarray
    idle_s: np.ndarray
    power_ptr: np.ndarray
    power_w: np.ndarray
    current_ptr: np.ndarray
    current_a: np.ndarray


def _pack(lists: Sequence[Sequence], dtype) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in lists], out=ptr[1:])
    flat = np.asarray([v for x in lists for v in x], dtype=dtype)
    return ptr, flat


def pack_rules(rule_sets: Sequence[PriceChangeRules]) -> PackedRules:
    """Flatten rule sets into the kernel's CSR arrays."""
    edge_ptr, edge_s = _pack([r.time_edges_s for r in rule_sets], np.int64)
    kwh_ptr, kwh_wh = _pack([r.kwh_thresholds_wh for r in rule_sets], np.float64)
    duration_ptr, duration_s = _pack([r.duration_thresholds_s for r in rule_sets], np.int64)
    idle_ptr, idle_s = _pack([r.idle_thresholds_s for r in rule_sets], np.int64)
    power_ptr, power_w = _pack([r.power_thresholds_w for r in rule_sets], np.float64)
    current_ptr, current_a = _pack([r.current_thresholds_a for r in rule_sets], np.float64)
    return PackedRules(edge_ptr, edge_s, kwh_ptr, kwh_wh, duration_ptr, duration_s, idle_ptr, idle_s,
                       power_ptr, power_w, current_ptr, current_a)
