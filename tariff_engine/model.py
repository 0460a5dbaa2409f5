"""Canonical tariff, session and result types of the tariff engine.

The tariff model is a superset of OCPI 2.2.1 / 2.3.0 `Tariff`: every OCPI field plus the extensions the
platform (seed 001) and Eevion (seed 003) tariffs need (billing increments, per-component caps, idle-fee
grace periods, session-level conditions, electricity-rate-linked prices). All money is `Decimal`; all
objects are frozen dataclasses, so a tariff can be shared, hashed and cached safely.

Units (fixed for the whole engine):
- ENERGY prices are per kWh, TIME / PARKING_TIME prices per hour, FLAT per session;
- step sizes and billing increments: Wh for ENERGY, seconds for TIME / PARKING_TIME / RESERVATION;
- power restrictions in kW, current restrictions in A (summed over phases), durations in seconds;
- session volumes: energy in kWh, time dimensions in hours (as in OCPI charging periods); the engine
  quantizes them half-up to 1 mWh and 1 ms (`SessionPeriod.energy_mwh`, `.time_ms` …), the unit both the
  Decimal reference and the kernels price in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

DimensionType = Literal["ENERGY", "TIME", "PARKING_TIME", "FLAT", "RESERVATION"]
DIMENSIONS: tuple[str, ...] = ("ENERGY", "TIME", "PARKING_TIME", "FLAT", "RESERVATION")
PriceBasis = Literal["FIXED", "ELECTRICITY_RATE"]
ReservationRestriction = Literal["RESERVATION", "RESERVATION_EXPIRES"]
TaxIncluded = Literal["YES", "NO", "N/A"]
WEEKDAYS: tuple[str, ...] = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")

_ZERO = Decimal(0)


class TariffModelError(ValueError):
    """A tariff or session object violates the model's invariants (message names the field)."""


@dataclass(frozen=True)
class PriceLimit:
    """A min/max price bound: `excl_vat` bounds the pre-tax total, `incl_vat` (optional) the post-tax total."""

    excl_vat: Decimal
    incl_vat: Decimal | None = None

    def __post_init__(self) -> None:
        if self.excl_vat < 0 or (self.incl_vat is not None and self.incl_vat < 0):
            raise TariffModelError("price limit: amounts must be >= 0")


@dataclass(frozen=True)
class TaxRate:
    """A named tax (2.3.0 `TaxAmount` name/percentage), applied to components that carry no own `vat`."""

    name: str
    percentage: Decimal


@dataclass(frozen=True)
class PriceComponent:
    """One priced dimension of an element.

    `price` is per kWh (ENERGY), per hour (TIME, PARKING_TIME, RESERVATION) or per session (FLAT), excluding
    or including taxes according to `Tariff.tax_included`; it may be negative (a credit, e.g. V2G feed-in). `vat` is a percentage (None = no VAT line; the
    tariff's `taxes` apply instead). `step_size` is OCPI's (Wh or s, 0 = no rounding).

    Extensions:
    - `billing_increment` (Wh or s, 0 = none): every continuous run of this component is billed per STARTED
      increment (Eevion priceIncrement per paymentCycleUnit, platform block billing periods);
    - `max_amount`: cap on the session total of this component, in the price's tax basis;
    - `price_basis` ELECTRICITY_RATE (ENERGY only): price per kWh = rate * (1 + markup_percent/100)
      + markup_fixed, with the rate given per period (`SessionPeriod.electricity_rate`); `price` is unused.
    """

    type: DimensionType
    price: Decimal
    vat: Decimal | None = None
    step_size: int = 0
    billing_increment: int = 0
    max_amount: Decimal | None = None
    price_basis: PriceBasis = "FIXED"
    markup_fixed: Decimal = _ZERO
    markup_percent: Decimal = _ZERO

    def __post_init__(self) -> None:
        if self.type not in DIMENSIONS:
            raise TariffModelError(f"price_component.type: unknown dimension {self.type!r}")
        if self.step_size < 0 or self.billing_increment < 0:
            raise TariffModelError("price_component: step_size and billing_increment must be >= 0")
        if self.price_basis not in ("FIXED", "ELECTRICITY_RATE"):
            raise TariffModelError(f"price_component.price_basis: unknown basis {self.price_basis!r}")
        if self.price_basis == "ELECTRICITY_RATE" and self.type != "ENERGY":
            raise TariffModelError("price_component.price_basis: ELECTRICITY_RATE is only valid for ENERGY")
        if self.max_amount is not None and self.max_amount < 0:
            raise TariffModelError("price_component.max_amount must be >= 0")
        # prices may be negative (V2G feed-in credits, dynamic tariffs with negative hours); taxes may not
        if self.vat is not None and self.vat < 0:
            raise TariffModelError("price_component: vat must be >= 0")
        if self.markup_percent < -100:
            raise TariffModelError("price_component.markup_percent must be >= -100")


@dataclass(frozen=True)
class TariffRestrictions:
    """Conditions under which an element is active; every set field must hold (AND).

    Evaluated at the start of each charging period unless noted:
    - `start_time` (inclusive) / `end_time` (exclusive): local wall clock; end < start wraps past midnight,
      None or 00:00 as end means end of day;
    - `start_date` (inclusive) / `end_date` (exclusive): local date;
    - `min_kwh` (>=) / `max_kwh` (<): energy consumed in the session before the period;
    - `min_current`/`max_current` (A, phases summed) against the period's MIN_CURRENT / MAX_CURRENT,
      `min_power`/`max_power` (kW) against MIN_POWER / MAX_POWER; a period without that measurement does not
      match;
    - `min_duration` (>=) / `max_duration` (<): seconds since session start;
    - `day_of_week`: local weekdays; `reservation`: the element prices reservation time only.
    Extensions:
    - `min_idle_duration` (>=) / `max_idle_duration` (<): seconds since charging ENDED (idle-fee grace);
      only periods starting at or after the end of charging match;
    - `session_min_duration` (s) / `session_min_kwh`: evaluated on the session totals (connection-fee
      conditions);
    - `min_avg_power`/`max_avg_power` (kW, session energy / charging hours) and `min_peak_power`/
      `max_peak_power` (kW, highest period MAX_POWER): session-level power levels, min >= and max <.
    """

    start_time: time | None = None
    end_time: time | None = None
    start_date: date | None = None
    end_date: date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: tuple[str, ...] | None = None
    reservation: ReservationRestriction | None = None
    min_idle_duration: int | None = None
    max_idle_duration: int | None = None
    session_min_duration: int | None = None
    session_min_kwh: Decimal | None = None
    min_avg_power: Decimal | None = None
    max_avg_power: Decimal | None = None
    min_peak_power: Decimal | None = None
    max_peak_power: Decimal | None = None

    def __post_init__(self) -> None:
        if self.day_of_week is not None:
            for day in self.day_of_week:
                if day not in WEEKDAYS:
                    raise TariffModelError(f"restrictions.day_of_week: unknown weekday {day!r}")
        if self.reservation not in (None, "RESERVATION", "RESERVATION_EXPIRES"):
            raise TariffModelError(f"restrictions.reservation: unknown value {self.reservation!r}")
        for name, value in vars(self).items():
            if isinstance(value, (int, Decimal)) and not isinstance(value, bool) and value < 0:
                raise TariffModelError(f"restrictions.{name}: must be >= 0")


@dataclass(frozen=True)
class TariffElement:
    """A group of price components active together while `restrictions` hold (None = always)."""

    price_components: tuple[PriceComponent, ...]
    restrictions: TariffRestrictions | None = None

    def __post_init__(self) -> None:
        if not self.price_components:
            raise TariffModelError("element.price_components must not be empty")


@dataclass(frozen=True)
class Tariff:
    """A canonical tariff (OCPI superset).

    `tax_included`: None (OCPI 2.1.1/2.2.1: prices exclude VAT), "NO", "YES" (prices include taxes) or
    "N/A" (no taxes apply). `taxes` are named tax rates for components without `vat` (2.3.0 style, e.g.
    GST + QST). `start_date_time`/`end_date_time` (UTC, end exclusive) bound when the tariff may price a
    session (by session start). `source` says where it came from (e.g. "ocpi-2.2.1", "platform", "eevion").
    """

    id: str
    currency: str
    elements: tuple[TariffElement, ...]
    tax_included: TaxIncluded | None = None
    min_price: PriceLimit | None = None
    max_price: PriceLimit | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None
    source: str = "ocpi"
    taxes: tuple[TaxRate, ...] = ()
    country_code: str | None = None
    party_id: str | None = None

    def __post_init__(self) -> None:
        if not self.elements:
            raise TariffModelError("tariff.elements must not be empty")
        if self.tax_included not in (None, "YES", "NO", "N/A"):
            raise TariffModelError(f"tariff.tax_included: unknown value {self.tax_included!r}")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise TariffModelError(f"tariff.currency: not an ISO 4217 code: {self.currency!r}")

    @property
    def electricity_rate_required(self) -> bool:
        """True when some component's price follows the electricity rate (periods must carry a rate)."""
        return any(
            component.price_basis == "ELECTRICITY_RATE"
            for element in self.elements
            for component in element.price_components
        )


_MWH_PER_KWH = Decimal(1_000_000)
_MS_PER_HOUR = Decimal(3_600_000)


def _quantize_int(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class SessionPeriod:
    """One OCPI charging period: starts at `start` (UTC), ends where the next one starts (or the session ends).

    Volumes: `energy_kwh` (ENERGY; negative when energy flows back to the grid, V2G), `time_h` (TIME:
    charging hours), `parking_h` (PARKING_TIME), `reservation_h` (RESERVATION_TIME). Measurements: MIN/MAX_CURRENT (A), MIN/MAX_POWER (kW), None when not
    reported. `electricity_rate`: price per kWh of electricity in the tariff currency for this period (needed
    by ELECTRICITY_RATE components).
    """

    start: datetime
    energy_kwh: Decimal = _ZERO
    time_h: Decimal = _ZERO
    parking_h: Decimal = _ZERO
    reservation_h: Decimal = _ZERO
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    electricity_rate: Decimal | None = None

    @property
    def energy_mwh(self) -> int:
        """Energy in mWh, half-up: the unit the engine prices energy in."""
        return _quantize_int(self.energy_kwh * _MWH_PER_KWH)

    @property
    def time_ms(self) -> int:
        """Charging time in ms, half-up."""
        return _quantize_int(self.time_h * _MS_PER_HOUR)

    @property
    def parking_ms(self) -> int:
        """Parking time in ms, half-up."""
        return _quantize_int(self.parking_h * _MS_PER_HOUR)

    @property
    def reservation_ms(self) -> int:
        """Reservation time in ms, half-up."""
        return _quantize_int(self.reservation_h * _MS_PER_HOUR)

    @property
    def is_reservation(self) -> bool:
        """A reservation period: it carries reservation time and no charging or parking."""
        return self.reservation_ms > 0 and self.time_ms == 0 and self.parking_ms == 0 and self.energy_mwh == 0


@dataclass(frozen=True)
class Session:
    """A session to price: UTC `start`/`end`, an IANA `timezone` for local-time restrictions, and periods.

    `reservation_expired`: whether a reservation expired without charging; None derives it (the session has
    reservation periods and nothing else).
    """

    id: str
    start: datetime
    end: datetime
    timezone: str
    periods: tuple[SessionPeriod, ...]
    reservation_expired: bool | None = None

    @property
    def expired(self) -> bool:
        """The effective reservation-expired flag."""
        if self.reservation_expired is not None:
            return self.reservation_expired
        has_reservation = any(p.is_reservation for p in self.periods)
        return has_reservation and all(p.is_reservation for p in self.periods)


@dataclass(frozen=True)
class TaxAmount:
    """One named tax of a total (2.3.0 `TaxAmount`)."""

    name: str
    amount: Decimal
    percentage: Decimal | None = None


@dataclass(frozen=True)
class Amount:
    """A money total: `excl_vat` (before taxes), `incl_vat` (after taxes) and the taxes by name."""

    excl_vat: Decimal
    incl_vat: Decimal
    taxes: tuple[TaxAmount, ...] = ()


@dataclass(frozen=True)
class BreakdownRow:
    """The audit row of one period and dimension.

    `element_index`/`component_index` locate the price component used; volumes are in kWh (ENERGY) or hours
    (TIME, PARKING_TIME, RESERVATION), 1 for FLAT; `step_volume` is what step_size / billing increments
    added; `price` is the unit price used (after electricity-rate markup); `amount` is the line in the
    price's tax basis after caps, `excl_vat` and `tax` split it (unrounded, 1e-9 currency precision).
    `reservation` is True when the row prices a reservation (time or fee).
    """

    period_index: int
    dimension: str
    element_index: int
    component_index: int
    raw_volume: Decimal
    billed_volume: Decimal
    step_volume: Decimal
    price: Decimal
    excl_vat: Decimal
    tax: Decimal
    reservation: bool = False


@dataclass(frozen=True)
class PricingResult:
    """The priced session: OCPI totals (rounded per the policy), quantities and the audit breakdown.

    On a per-session error, `error_code` (UPPER_SNAKE) and `error` are set and the amounts are zero.
    `warnings`: codes of input glitches that were repaired before pricing (`policy.GLITCH_WARNINGS`).
    `min_price_applied`/`max_price_applied` tell whether a bound changed the pre- or post-tax total.
    """

    session_id: str
    currency: str
    total_cost: Amount
    total_energy_cost: Amount
    total_time_cost: Amount
    total_parking_cost: Amount
    total_fixed_cost: Amount
    total_reservation_cost: Amount
    total_energy: Decimal
    total_time: Decimal
    total_parking_time: Decimal
    min_price_applied: bool = False
    max_price_applied: bool = False
    breakdown: tuple[BreakdownRow, ...] = field(default=())
    error_code: str | None = None
    error: str | None = None
    warnings: tuple[str, ...] = ()


def utc(value: datetime) -> datetime:
    """`value` as an aware UTC datetime (naive values are UTC, as in OCPI)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)
