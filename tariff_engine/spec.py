"""The restriction spec table: one row per threshold restriction, the one place its rule is written.

Each row says what a `TariffRestrictions` threshold is compared with and how; from this table are derived:
- the OCPI adapter's accepted restriction fields and their JSON types (`adapters.ocpi`),
- the compiled element column layout and each threshold's fixed-point encoding (`compile`),
- the Decimal reference's threshold checks (`reference._thresholds_hold`),
- the period cutter's threshold edges, for the pipeline and for quotes alike
  (`consumption.price_changes.rules_from_tariff`: rows with `cuts_periods`, by their quantity),
- the property-test strategy (`tests/engine/test_properties.py`).
The numba kernel keeps one explicit arm per row (`kernels._element_matches`, unrolled for speed); a test
checks that every row has its compiled column and that the kernel reads it.

Comparison (OCPI semantics): MIN holds when quantity >= threshold, MAX when quantity < threshold; a quantity
that is not known for the period (no measurement, no idle time yet, no MAX_POWER in the session) never
holds. Units: DECIMAL thresholds are compared at 1e-6 (half-up) in the unit named; SECONDS thresholds are
whole seconds, compared at the millisecond.

Calendar restrictions (start/end time, start/end date, day_of_week) and `reservation` are not thresholds:
they are written out in `reference._element_matches` and the kernel.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Quantity = Literal[
    "energy_before",     # kWh consumed in the session before the period
    "since_start",       # seconds since the session start, at the period start
    "idle",              # seconds since charging ended (unknown before)
    "min_current", "max_current",  # the period's MIN_CURRENT / MAX_CURRENT (A)
    "min_power", "max_power",      # the period's MIN_POWER / MAX_POWER (kW)
    "session_duration",  # seconds, whole session
    "session_energy",    # kWh, whole session
    "average_power",     # kW: session energy / charging hours (0 without charging)
    "peak_power",        # kW: highest MAX_POWER of the session (unknown without any)
]


@dataclass(frozen=True)
class ThresholdSpec:
    """One threshold restriction: field name (model and OCPI key), value kind, comparison, the quantity it
    is compared with, its unit, whether the period cutter cuts where the quantity crosses it (quantities
    that change within a session: energy so far, time since start, idle time, measured power and current;
    the session-level ones never cut), and the name of its compiled element column."""

    name: str
    kind: Literal["DECIMAL", "SECONDS"]
    compare: Literal["MIN", "MAX"]
    quantity: Quantity
    unit: str
    cuts_periods: bool
    column: str

    @property
    def scale(self) -> int:
        """Fixed-point units per unit in the compiled arrays: 1e-6 for decimals, milliseconds for seconds."""
        return 1_000_000 if self.kind == "DECIMAL" else 1000


THRESHOLDS: tuple[ThresholdSpec, ...] = (
    ThresholdSpec("min_kwh", "DECIMAL", "MIN", "energy_before", "kWh", True, "E_MIN_KWH"),
    ThresholdSpec("max_kwh", "DECIMAL", "MAX", "energy_before", "kWh", True, "E_MAX_KWH"),
    ThresholdSpec("min_current", "DECIMAL", "MIN", "min_current", "A", True, "E_MIN_CUR"),
    ThresholdSpec("max_current", "DECIMAL", "MAX", "max_current", "A", True, "E_MAX_CUR"),
    ThresholdSpec("min_power", "DECIMAL", "MIN", "min_power", "kW", True, "E_MIN_POW"),
    ThresholdSpec("max_power", "DECIMAL", "MAX", "max_power", "kW", True, "E_MAX_POW"),
    ThresholdSpec("min_duration", "SECONDS", "MIN", "since_start", "s", True, "E_MIN_DUR"),
    ThresholdSpec("max_duration", "SECONDS", "MAX", "since_start", "s", True, "E_MAX_DUR"),
    ThresholdSpec("min_idle_duration", "SECONDS", "MIN", "idle", "s", True, "E_MIN_IDLE"),
    ThresholdSpec("max_idle_duration", "SECONDS", "MAX", "idle", "s", True, "E_MAX_IDLE"),
    ThresholdSpec("session_min_duration", "SECONDS", "MIN", "session_duration", "s", False, "E_SESS_MIN_DUR"),
    ThresholdSpec("session_min_kwh", "DECIMAL", "MIN", "session_energy", "kWh", False, "E_SESS_MIN_KWH"),
    ThresholdSpec("min_avg_power", "DECIMAL", "MIN", "average_power", "kW", False, "E_MIN_AVG"),
    ThresholdSpec("max_avg_power", "DECIMAL", "MAX", "average_power", "kW", False, "E_MAX_AVG"),
    ThresholdSpec("min_peak_power", "DECIMAL", "MIN", "peak_power", "kW", False, "E_MIN_PEAK"),
    ThresholdSpec("max_peak_power", "DECIMAL", "MAX", "peak_power", "kW", False, "E_MAX_PEAK"),
)
BY_NAME = {spec.name: spec for spec in THRESHOLDS}
DECIMAL_THRESHOLDS = tuple(spec.name for spec in THRESHOLDS if spec.kind == "DECIMAL")  # in table order
SECONDS_THRESHOLDS = tuple(spec.name for spec in THRESHOLDS if spec.kind == "SECONDS")
CALENDAR_RESTRICTIONS = frozenset({"start_time", "end_time", "start_date", "end_date", "day_of_week"})
RESTRICTION_FIELDS = frozenset(BY_NAME) | CALENDAR_RESTRICTIONS | {"reservation"}

# Compiled element layout: the calendar and reservation columns, one column per threshold row (in table
# order), then two bookkeeping columns. `ELEMENT_COLUMNS[name]` is the column index.
_LEADING = ("E_RES", "E_WIN_START", "E_WIN_END", "E_START_DAY", "E_END_DAY", "E_DOW")
_TRAILING = ("E_HAS_RESTR", "E_FIRST_COMP")
ELEMENT_COLUMNS: dict[str, int] = {
    name: index for index, name in enumerate(_LEADING + tuple(spec.column for spec in THRESHOLDS) + _TRAILING)}
ELEMENT_WIDTH = len(ELEMENT_COLUMNS)


def restriction(quantity: Quantity, compare: Literal["MIN", "MAX"]) -> ThresholdSpec:
    """The row that bounds `quantity` from below (MIN) or above (MAX). Source adapters name what a source
    concept bounds (a quantity) and take the restriction from here, never by its field name."""
    for spec in THRESHOLDS:
        if spec.quantity == quantity and spec.compare == compare:
            return spec
    raise LookupError(f"the spec table has no {compare} restriction on {quantity!r}")


def bounds(quantity: Quantity, low: Decimal | int | None = None, high: Decimal | int | None = None, *,
           high_inclusive: bool = False) -> dict[str, Decimal | int]:
    """The restriction fields that hold `quantity` within [low, high): the MIN row's field set to `low`, the
    MAX row's to `high`; a bound that is None is left out (0 is kept: it is a bound). With `high_inclusive`
    ("up to and including"), the MAX threshold is one step of the comparison's precision above `high`
    (1e-6 of a DECIMAL unit; a SECONDS threshold cannot be made inclusive). Values are checked against the
    row's kind: whole seconds as int, decimals as Decimal."""
    fields: dict[str, Decimal | int] = {}
    for compare, value in (("MIN", low), ("MAX", high)):
        if value is None:
            continue
        spec = restriction(quantity, compare)  # type: ignore[arg-type]
        if spec.kind == "SECONDS" and (not isinstance(value, int) or isinstance(value, bool)):
            raise TypeError(f"{spec.name} takes whole seconds (int), got {value!r}")
        if spec.kind == "DECIMAL" and not isinstance(value, Decimal):
            raise TypeError(f"{spec.name} takes a Decimal, got {value!r}")
        if compare == "MAX" and high_inclusive:
            if spec.kind != "DECIMAL":
                raise ValueError(f"{spec.name} compares whole seconds: an inclusive bound cannot be expressed")
            value = value + Decimal(1) / spec.scale
        fields[spec.name] = value
    return fields
