"""The hypothetical charge of a quote as priceable sessions, cut by the pipeline's own period cutter.

Each (tariff, charge point) charge is charging at constant power from its start for its duration, with no
idle time. It is cut wherever the tariff's price could change by the cutter the pipeline uses on metered
sessions (`consumption.periods.split_charging_periods` with `consumption.price_changes.rules_from_tariff`):
local wall-clock edges (DST-aware), electricity-rate slots, kWh and duration thresholds (the spec table's
cutting rows). Cuts are taken at whole milliseconds, rounded up so that a kWh threshold is reached when its
period starts; each period's energy is the exact constant-power share, its cumulative value rounded up to
1e-6 kWh (the engine's resolution) and the last equal to the charge's energy; MAX_POWER is the charge
point's peak power.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Sequence
from zoneinfo import ZoneInfo

import polars as pl

from ..consumption.electricity import ElectricityRate
from ..consumption.periods import split_charging_periods
from ..consumption.price_changes import NO_RULES, PriceChangeRules, rules_from_tariff
from ..model import Session, SessionPeriod, Tariff
from .request import ChargePoint


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS_PER_HOUR = Decimal(3_600_000)
_MICRO_KWH = Decimal("0.000001")


@dataclass(frozen=True)


class QuoteCharge:
    """One charge to quote: the tariff, the charge point's charge, its UTC start, zone and electricity rate."""

    tariff: Tariff
    point: ChargePoint
    start: datetime
    zone: str
    rate: ElectricityRate | None
    session_id: str

    @property
    def duration_ms(self) -> int:
        """The charge's duration in whole milliseconds (half-up)."""
        return int((self.point.duration_min * 60_000).to_integral_value(rounding=ROUND_HALF_UP))


def _cut_offsets_ms(charges: Sequence[QuoteCharge]) -> list[list[int]]:
    """Per charge, the period start offsets (ms after its start, the first 0) from the pipeline cutter; a
    charge whose tariff has no price-change rules is one period (the cutter would not cut it)."""
    offsets: list[list[int]] = [[0] for _ in charges]
    rules: dict[str, PriceChangeRules] = {}
    to_cut: list[tuple[int, str]] = []  # (charge index, rule key)
    for index, charge in enumerate(charges):
        key = f"{id(charge.tariff)}:{id(charge.rate)}"  # one rule set per distinct tariff and rate
        if key not in rules:
            rules[key] = rules_from_tariff(charge.tariff, charge.rate)
        if rules[key] != NO_RULES:
            to_cut.append((index, key))
    if not to_cut:
        return offsets
    keys = [f"{position:09d}" for position in range(len(to_cut))]  # sortable: the cutter orders spans by id
    starts_us = [(charges[index].start - _EPOCH) // timedelta(microseconds=1) for index, _ in to_cut]
    ends_us = [start + charges[index].duration_ms * 1000 for start, (index, _) in zip(starts_us, to_cut)]
    moment = pl.Datetime("us", "UTC")
    spans = pl.DataFrame(
        {"session_id": keys, "start_utc": starts_us, "end_utc": ends_us,
         "time_zone": [charges[index].zone for index, _ in to_cut], "rule_key": [key for _, key in to_cut]},
        schema={"session_id": pl.String, "start_utc": pl.Int64, "end_utc": pl.Int64, "time_zone": pl.String,
                "rule_key": pl.String},
    ).with_columns(pl.col("start_utc", "end_utc").cast(moment))
    # constant power: the register goes from 0 at the start to the charge's energy (Wh) at the end
    curve = pl.DataFrame(
        {"session_id": keys + keys, "timestamp": starts_us + ends_us,
         "energy_wh": [0.0] * len(to_cut) + [float(charges[index].point.energy_kwh * 1000) for index, _ in to_cut]},
        schema={"session_id": pl.String, "timestamp": pl.Int64, "energy_wh": pl.Float64},
    ).with_columns(pl.col("timestamp").cast(moment))
    # a threshold of 0 W keeps every span of a slow charge a charging span (no parking in a quote)
    periods = split_charging_periods(curve, spans, rules=rules, parking_threshold_w=0.0)
    for position, start_us in zip(periods["session_id"].cast(pl.Int64).to_list(),
                                  periods["start_utc"].dt.epoch("us").to_list()):
        index = to_cut[position][0]
        offset_ms = -(-(start_us - starts_us[position]) // 1000)  # up to the whole ms
        if offsets[index][-1] < offset_ms < charges[index].duration_ms:
            offsets[index].append(offset_ms)
    return offsets


def build_quote_sessions(charges: Sequence[QuoteCharge]) -> list[Session]:
    """The charges as priceable sessions (see the module docstring), in order; one cutter call for all."""
    if not charges:
        return []
    sessions = []
    for charge, offsets in zip(charges, _cut_offsets_ms(charges)):
        duration_ms, energy = charge.duration_ms, charge.point.energy_kwh
        bounds = offsets + [duration_ms]
        cumulative = [min(energy, (energy * offset / duration_ms).quantize(_MICRO_KWH, rounding=ROUND_CEILING))
                      for offset in bounds]
        cumulative[0], cumulative[-1] = Decimal(0), energy
        zone = ZoneInfo(charge.zone)
        periods = []
        for i, offset in enumerate(offsets):
            moment = charge.start + timedelta(milliseconds=offset)
            electricity = None
            if charge.rate is not None and charge.tariff.electricity_rate_required:
                electricity = charge.rate.price_at(moment.astimezone(zone))
            periods.append(SessionPeriod(
                start=moment,
                energy_kwh=cumulative[i + 1] - cumulative[i],
                time_h=Decimal(bounds[i + 1] - offset) / _MS_PER_HOUR,
                max_power=charge.point.peak_kw,
                electricity_rate=electricity,
            ))
        sessions.append(Session(id=charge.session_id, start=charge.start,
                                end=charge.start + timedelta(milliseconds=duration_ms), timezone=charge.zone,
                                periods=tuple(periods)))
    return sessions
