"""Compile canonical tariffs and sessions into the flat integer arrays the numba kernels price.

Fixed-point units (the same the Decimal reference rounds to): measurements and thresholds in 1e-6 (micro),
energy in mWh, time in ms, money in 1e-9 (nano), VAT and tax percentages in 1e-4 percent. Prices are exact:
each component carries its own decimal scale (at least 6, as many as its price or markup has, up to
`MAX_PRICE_DECIMALS`); prices and electricity rates may be negative. A tariff whose percentages need more
than 4 decimals (or prices more than `MAX_PRICE_DECIMALS`) is refused with `TariffCompileError`.
Missing optional values are the sentinel `NONE` (all real values are >= 0 or checked).

Time zones become UTC-offset transition tables (`ZoneTable`) so local wall-clock time is computed inside the
kernel by binary search, never by Python per period.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from .consumption.timezones import offset_segments
from .bounds import bound_tax_rate
from .spec import ELEMENT_COLUMNS, ELEMENT_WIDTH, THRESHOLDS
from .model import WEEKDAYS, PriceComponent, Session, Tariff, TariffRestrictions
from .money import MODE_CODES, STAGE_CODES, decimal_to_nano, INTERNAL_DECIMALS, minor_units
from .policy import PricingPolicy

NONE = -(2**62)
MAX_PRICE_DECIMALS = 15
MAX_TAX_SLOTS = 4  # slot 0 = per-component VAT, slots 1..3 = the tariff's named taxes
DIM_ENERGY, DIM_TIME, DIM_PARKING, DIM_FLAT, DIM_RESERVATION = range(5)
_EPOCH_DATE = date(1970, 1, 1)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# Per-session error codes (index = code); 0 means priced.
ERROR_CODES: tuple[str, ...] = (
    "",
    "UNKNOWN_TIMEZONE",
    "INVALID_SESSION_TIMES",
    "TARIFF_NOT_ACTIVE",
    "NO_PERIODS",
    "PERIOD_OUTSIDE_SESSION",
    "NON_MONOTONIC_PERIODS",
    "NEGATIVE_VOLUME",
    "NEGATIVE_MEASUREMENT",
    "MISSING_ELECTRICITY_RATE",
    "AMOUNT_OVERFLOW",
    "TARIFF_NOT_COMPILABLE",
    "MALFORMED_SESSION",
    "UNKNOWN_TARIFF",
    "UNKNOWN_CURRENCY",
    "BOUND_TAX_AMBIGUOUS",
)
ERROR_INDEX = {code: index for index, code in enumerate(ERROR_CODES)}


class TariffCompileError(ValueError):
    """A tariff the fixed-point kernels cannot represent exactly (message names the field)."""


def _scaled(value: Decimal, scale: int, field: str) -> int:
    scaled = value.scaleb(scale)
    if scaled != scaled.to_integral_value():
        raise TariffCompileError(f"{field}: {value} has more than {scale} decimals")
    return int(scaled)


def _micro_half_up(value: Decimal | None) -> int:
    if value is None:
        return NONE
    return int(value.scaleb(6).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _threshold(value: Decimal | None, field: str) -> int:
    if value is not None and value < 0:
        raise TariffCompileError(f"{field}: negative threshold")
    return _micro_half_up(value)


def _seconds(value: int | None, field: str) -> int:
    if value is None:
        return NONE
    if value < 0:
        raise TariffCompileError(f"{field}: negative duration")
    return value * 1000


@dataclass
class CompiledTariffs:
    """A batch of tariffs as flat arrays (CSR: tariff -> elements -> components)."""

    ids: list[str]
    currencies: list[str]
    tax_names: list[tuple[str, ...]]
    tariff_int: np.ndarray  # [T, TARIFF_WIDTH] see T_* columns
    tariff_tax_rates: np.ndarray  # [T, MAX_TAX_SLOTS] e4 (slot 0 unused)
    element_offsets: np.ndarray  # [T+1]
    element_int: np.ndarray  # [E, ELEMENT_WIDTH] see spec.ELEMENT_COLUMNS
    element_components: np.ndarray  # [E, 5] global component index per dimension, -1 none
    component_int: np.ndarray  # [C, COMPONENT_WIDTH] see C_* columns
    max_elements: int
    max_components: int


# Tariff columns
(T_TAX_INCLUDED, T_MIN_EXCL, T_MIN_INCL, T_MAX_EXCL, T_MAX_INCL, T_START, T_END, T_NTAX, T_UNIT, T_RATE_REQ, T_COMP_OFF,
 T_NCOMP, T_HAS_INCR, T_NEEDS_LOCAL, T_BOUND_RATE) = range(15)
TARIFF_WIDTH = 15
# Element columns: derived from the restriction spec table (spec.ELEMENT_COLUMNS), one E_* name per column
globals().update(ELEMENT_COLUMNS)
E_RES, E_WIN_START, E_WIN_END, E_START_DAY, E_END_DAY, E_DOW, E_HAS_RESTR, E_FIRST_COMP = (  # noqa: F821 - set above
    ELEMENT_COLUMNS[name] for name in ("E_RES", "E_WIN_START", "E_WIN_END", "E_START_DAY", "E_END_DAY", "E_DOW",
                                       "E_HAS_RESTR", "E_FIRST_COMP"))
# Component columns
# C_PRICE and C_MARKUP_FIXED are in units of 10**-C_DECIMALS; C_PRICE_FACTOR = 10**(C_DECIMALS - 6)
(C_PRICE, C_VAT, C_STEP, C_INCR, C_MAX_AMOUNT, C_BASIS, C_MARKUP_FIXED, C_MARKUP_PCT, C_LOCAL_INDEX, C_ELEMENT,
 C_DECIMALS, C_PRICE_FACTOR) = range(12)
COMPONENT_WIDTH = 12


def _time_of_day_ms(value) -> int:
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1000


def _element_row(restrictions: TariffRestrictions | None, path: str) -> list[int]:
    row = [NONE] * ELEMENT_WIDTH
    row[E_RES] = 0
    row[E_DOW] = 127
    row[E_HAS_RESTR] = 0
    if restrictions is None:
        return row
    r = restrictions
    row[E_HAS_RESTR] = 1
    row[E_RES] = {None: 0, "RESERVATION": 1, "RESERVATION_EXPIRES": 2}[r.reservation]
    if r.start_time is not None or r.end_time is not None:
        row[E_WIN_START] = _time_of_day_ms(r.start_time) if r.start_time is not None else 0
        end = _time_of_day_ms(r.end_time) if r.end_time is not None else 0
        row[E_WIN_END] = end if end != 0 else 86_400_000
    if r.start_date is not None:
        row[E_START_DAY] = (r.start_date - _EPOCH_DATE).days
    if r.end_date is not None:
        row[E_END_DAY] = (r.end_date - _EPOCH_DATE).days
    if r.day_of_week is not None:
        row[E_DOW] = sum(1 << WEEKDAYS.index(day) for day in set(r.day_of_week))
    for spec in THRESHOLDS:  # micro (half-up) for DECIMAL thresholds, ms for SECONDS ones
        encode = _threshold if spec.kind == "DECIMAL" else _seconds
        row[ELEMENT_COLUMNS[spec.column]] = encode(getattr(r, spec.name), f"{path}.{spec.name}")
    return row


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _component_row(c: PriceComponent, local_index: int, element_index: int, path: str) -> list[int]:
    decimals = max(6, _decimals(c.price), _decimals(c.markup_fixed))
    if decimals > MAX_PRICE_DECIMALS:
        raise TariffCompileError(f"{path}.price: more than {MAX_PRICE_DECIMALS} decimals")
    price, markup = _scaled(c.price, decimals, f"{path}.price"), _scaled(c.markup_fixed, decimals, f"{path}.markup_fixed")
    if max(abs(price), abs(markup)) >= 2**62:
        raise TariffCompileError(f"{path}.price: beyond the engine's range")
    return [
        price,
        NONE if c.vat is None else _scaled(c.vat, 4, f"{path}.vat"),
        c.step_size * 1000,
        c.billing_increment * 1000,
        NONE if c.max_amount is None else decimal_to_nano(c.max_amount),
        1 if c.price_basis == "ELECTRICITY_RATE" else 0,
        markup,
        _scaled(c.markup_percent, 4, f"{path}.markup_percent"),
        local_index,
        element_index,
        decimals,
        10 ** (decimals - 6),
    ]


def _needs_local_time(r: TariffRestrictions | None) -> bool:
    """Whether the element looks at the local wall clock (the kernel skips the zone lookup otherwise)."""
    return r is not None and any(
        value is not None for value in (r.start_time, r.end_time, r.start_date, r.end_date, r.day_of_week))


def compile_tariffs(tariffs: list[Tariff], policy: PricingPolicy) -> CompiledTariffs:
    """Compile tariffs (in order; the index is the tariff id used by sessions). Raises TariffCompileError."""
    tariff_rows, tax_rates, element_offsets, element_rows, element_components, component_rows = [], [], [0], [], [], []
    max_elements = max_components = 1
    for t_index, tariff in enumerate(tariffs):
        path = f"tariffs[{t_index}]"
        if len(tariff.taxes) > MAX_TAX_SLOTS - 1:
            raise TariffCompileError(f"{path}.taxes: at most {MAX_TAX_SLOTS - 1} named taxes")
        minor_units(tariff.currency)  # raises UnknownCurrencyError
        decimals = policy.rounding.output_decimals(tariff.currency)
        first_component = len(component_rows)
        for e_index, element in enumerate(tariff.elements):
            e_path = f"{path}.elements[{e_index}]"
            row = _element_row(element.restrictions, f"{e_path}.restrictions")
            row[E_FIRST_COMP] = len(component_rows) - first_component
            dims = [-1] * 5
            for c_index, component in enumerate(element.price_components):
                global_index = len(component_rows)
                component_rows.append(_component_row(component, c_index, e_index, f"{e_path}.price_components[{c_index}]"))
                slot = {"ENERGY": DIM_ENERGY, "TIME": DIM_TIME, "PARKING_TIME": DIM_PARKING, "FLAT": DIM_FLAT}.get(component.type)
                if slot is not None and dims[slot] < 0:
                    dims[slot] = global_index
                if component.type in ("TIME", "RESERVATION") and dims[DIM_RESERVATION] < 0:
                    dims[DIM_RESERVATION] = global_index
            element_rows.append(row)
            element_components.append(dims)
        element_offsets.append(len(element_rows))
        max_elements = max(max_elements, len(tariff.elements))
        n_components = len(component_rows) - first_component
        max_components = max(max_components, n_components)
        tax_included = {None: 0, "NO": 0, "YES": 1, "N/A": 2}[tariff.tax_included]
        limits = []
        for limit in (tariff.min_price, tariff.max_price):
            limits.append(NONE if limit is None else decimal_to_nano(limit.excl_vat))
            limits.append(NONE if limit is None or limit.incl_vat is None else decimal_to_nano(limit.incl_vat))
        tariff_rows.append([
            tax_included, *limits,
            NONE if tariff.start_date_time is None else _ms(tariff.start_date_time),
            NONE if tariff.end_date_time is None else _ms(tariff.end_date_time),
            len(tariff.taxes), 10 ** (INTERNAL_DECIMALS - decimals), int(tariff.electricity_rate_required),
            first_component, n_components,
            int(any(c.billing_increment > 0 for e in tariff.elements for c in e.price_components)),
            int(any(_needs_local_time(e.restrictions) for e in tariff.elements)),
            _bound_rate_e4(tariff, path),
        ])
        rates = [0] * MAX_TAX_SLOTS
        for slot, tax in enumerate(tariff.taxes, start=1):
            rates[slot] = _scaled(tax.percentage, 4, f"{path}.taxes[{slot - 1}].percentage")
        tax_rates.append(rates)
    return CompiledTariffs(
        ids=[t.id for t in tariffs],
        currencies=[t.currency for t in tariffs],
        tax_names=[("VAT",) + tuple(x.name for x in t.taxes) for t in tariffs],
        tariff_int=np.array(tariff_rows, dtype=np.int64).reshape(-1, TARIFF_WIDTH),
        tariff_tax_rates=np.array(tax_rates, dtype=np.int64).reshape(-1, MAX_TAX_SLOTS),
        element_offsets=np.array(element_offsets, dtype=np.int64),
        element_int=np.array(element_rows, dtype=np.int64).reshape(-1, ELEMENT_WIDTH),
        element_components=np.array(element_components, dtype=np.int64).reshape(-1, 5),
        component_int=np.array(component_rows, dtype=np.int64).reshape(-1, COMPONENT_WIDTH),
        max_elements=max_elements,
        max_components=max_components,
    )


def _bound_rate_e4(tariff: Tariff, path: str) -> int:
    """The tariff's rate for min/max bounds on an unpriced session (`bounds.bound_tax_rate`), NONE if none."""
    rate = bound_tax_rate(tariff)
    return NONE if rate is None else _scaled(rate, 4, f"{path}: tax rate")


def _ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


# ---- time zones ---------------------------------------------------------------------------------------------


@dataclass
class ZoneTable:
    """UTC-offset transitions of several zones: zone z owns rows offsets[z]:offsets[z+1] of (instant, offset)."""

    names: list[str]
    offsets: np.ndarray
    instants_ms: np.ndarray
    utc_offsets_ms: np.ndarray


def zone_transitions(zone: ZoneInfo, first_ms: int, last_ms: int) -> tuple[list[int], list[int]]:
    """(instants, offsets): the UTC offset valid from each instant on, covering [first_ms, last_ms].

    The transitions come from the one shared finder (`consumption.timezones.offset_segments`, microseconds,
    days of margin on both sides), converted to the kernels' milliseconds; the first instant is NONE.
    """
    starts_us, offsets_us = offset_segments(zone.key, first_ms * 1000, last_ms * 1000)
    instants = [NONE] + [int(start) // 1000 for start in starts_us[1:]]
    return instants, [int(offset) // 1000 for offset in offsets_us]


@lru_cache(maxsize=512)
def _cached_transitions(name: str, first_year: int, last_year: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Transitions of zone `name` over whole calendar years: batches in the same years share one computation
    (a wider span only adds transitions outside the batch, so every offset looked up is the same)."""
    first_ms = _ms(datetime(min(max(first_year, 2), 9997), 1, 1, tzinfo=timezone.utc))
    last_ms = _ms(datetime(min(max(last_year, 2), 9997), 12, 31, tzinfo=timezone.utc))
    zone_instants, zone_offsets = zone_transitions(ZoneInfo(name), first_ms, last_ms)
    return tuple(zone_instants), tuple(zone_offsets)


def build_zone_table(names: list[str], first_ms: int, last_ms: int) -> tuple[ZoneTable, list[bool]]:
    """Transition tables for `names` over [first_ms, last_ms]; the flags say which names were valid zones."""
    offsets, instants, utc_offsets, valid = [0], [], [], []
    first_year = (_EPOCH + timedelta(milliseconds=first_ms)).year - 1
    last_year = (_EPOCH + timedelta(milliseconds=last_ms)).year + 1
    for name in names:
        try:
            zone_instants, zone_offsets = _cached_transitions(name, first_year, last_year)
            valid.append(True)
        except (ZoneInfoNotFoundError, ValueError):
            zone_instants, zone_offsets = [NONE], [0]
            valid.append(False)
        instants.extend(zone_instants)
        utc_offsets.extend(zone_offsets)
        offsets.append(len(instants))
    table = ZoneTable(names, np.array(offsets, dtype=np.int64), np.array(instants, dtype=np.int64),
                      np.array(utc_offsets, dtype=np.int64))
    return table, valid


# ---- sessions -----------------------------------------------------------------------------------------------

# Period columns
P_START, P_ENERGY, P_TIME, P_PARKING, P_RESERVATION, P_MIN_CUR, P_MAX_CUR, P_MIN_POW, P_MAX_POW, P_RATE = range(10)


@dataclass
class SessionBatch:
    """Sessions as CSR arrays: session i owns period rows period_offsets[i]:period_offsets[i+1].

    `session_int` columns: tariff index, zone index, start ms, end ms, reservation_expired (-1 derive, 0, 1),
    pre-set error code. `period_int` columns: see P_* (volumes in mWh / ms, measurements in micro, NONE if
    missing).
    """

    ids: list[str]
    session_int: np.ndarray  # [N, 6]
    period_offsets: np.ndarray  # [N+1]
    period_int: np.ndarray  # [P, 10]
    zones: ZoneTable


S_TARIFF, S_ZONE, S_START, S_END, S_EXPIRED, S_ERROR = range(6)


def encode_sessions(sessions: list[Session], tariff_indexes: list[int]) -> SessionBatch:
    """Encode `Session` objects (the slow, object path; the polars path builds the arrays directly)."""
    zone_names = sorted({s.timezone for s in sessions})
    zone_index = {name: i for i, name in enumerate(zone_names)}
    session_rows, period_rows, offsets = [], [], [0]
    first_ms, last_ms = None, None
    for session, tariff_index in zip(sessions, tariff_indexes):
        start_ms, end_ms = _ms(session.start), _ms(session.end)
        expired = -1 if session.reservation_expired is None else int(session.reservation_expired)
        session_rows.append([tariff_index, zone_index[session.timezone], start_ms, end_ms, expired,
                             0 if tariff_index >= 0 else ERROR_INDEX["UNKNOWN_TARIFF"]])
        for period in session.periods:
            period_rows.append([
                _ms(period.start), period.energy_mwh, period.time_ms, period.parking_ms, period.reservation_ms,
                _micro_half_up(period.min_current), _micro_half_up(period.max_current),
                _micro_half_up(period.min_power), _micro_half_up(period.max_power),
                _micro_half_up(period.electricity_rate),
            ])
            first_ms = min(first_ms, period_rows[-1][0]) if first_ms is not None else period_rows[-1][0]
            last_ms = max(last_ms, period_rows[-1][0]) if last_ms is not None else period_rows[-1][0]
        offsets.append(len(period_rows))
    first_ms = first_ms if first_ms is not None else 0
    last_ms = last_ms if last_ms is not None else 0
    zones, valid = build_zone_table(zone_names, first_ms, last_ms)
    session_int = np.array(session_rows, dtype=np.int64).reshape(-1, 6)
    for row in session_int:
        if not valid[row[S_ZONE]] and row[S_ERROR] == 0:
            row[S_ERROR] = ERROR_INDEX["UNKNOWN_TIMEZONE"]
    return SessionBatch(
        ids=[s.id for s in sessions],
        session_int=session_int,
        period_offsets=np.array(offsets, dtype=np.int64),
        period_int=np.array(period_rows, dtype=np.int64).reshape(-1, 10),
        zones=zones,
    )


def policy_codes(policy: PricingPolicy) -> np.ndarray:
    """The policy as kernel parameters: [rounding mode, rounding stage, apply step size, wrap weekday,
    strict glitches, early-period tolerance in ms]."""
    return np.array([
        MODE_CODES[policy.rounding.mode], STAGE_CODES[policy.rounding.stage], int(policy.apply_step_size),
        0 if policy.wrap_weekday == "INSTANT" else 1, int(policy.glitches == "STRICT"),
        policy.early_period_tolerance_s * 1000,
    ], dtype=np.int64)


def currency_unit(currency: str, policy: PricingPolicy) -> int:
    """Output rounding unit in nano for `currency` (validates the currency)."""
    minor_units(currency)
    return 10 ** (INTERNAL_DECIMALS - policy.rounding.output_decimals(currency))
