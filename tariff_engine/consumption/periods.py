"""OCPI charging periods from meter curves: polars front end of `periods_kernel`.

A session is cut at every moment its price could change (`price_changes`) and at every charging↔parking
switch. Parking follows the OCPI 2.2.1 erratum: the vehicle is not requesting power. From OCPP charging
states, `SuspendedEV`, `EVConnected`, `Idle`, `Preparing` and `Finishing` are parking; `Charging` and
`SuspendedEVSE` (the charger withholds power) are not. Without charging states, a register span whose
average power is below `PARKING_POWER_THRESHOLD_W` (and any time outside the readings, where the
register is flat) is parking.

Each period carries the OCPI dimensions in the pipeline's units: ENERGY as integer Wh (periods sum to
the session's register delta exactly), TIME and PARKING_TIME as seconds, MIN/MAX_POWER in W and
MIN/MAX_CURRENT in A (phases summed; null when not measured). `to_engine_sessions` converts them to the
engine's `Session`/`SessionPeriod` (kWh, hours, kW).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Mapping

import numpy as np
import polars as pl

from tariff_engine.consumption.aligned import csr_by_session
from tariff_engine.consumption.periods_kernel import split_sessions
from tariff_engine.consumption.price_changes import NO_RULES, PriceChangeRules, pack_rules
from tariff_engine.consumption.timezones import build_zone_timelines
from tariff_engine.model import Session, SessionPeriod

PARKING_POWER_THRESHOLD_W = 100.0
"""Below 100 W on average the car is not really charging (balancing, preconditioning, standby)."""

PARKING_STATES = frozenset({"suspendedev", "evconnected", "idle", "preparing", "finishing"})
CHARGING_STATES = frozenset({"charging", "suspendedevse"})

PERIOD_SCHEMA = {
    "session_id": pl.String,
    "period_index": pl.Int32,
    "start_utc": pl.Datetime("us", "UTC"),
    "end_utc": pl.Datetime("us", "UTC"),
    "state": pl.String,
    "energy_wh": pl.Int64,
    "time_s": pl.Float64,
    "parking_time_s": pl.Float64,
    "min_power_w": pl.Float64,
    "max_power_w": pl.Float64,
    "min_current_a": pl.Float64,
    "max_current_a": pl.Float64,
}


def parking_flags(states: pl.DataFrame) -> pl.DataFrame:
    """session_id, timestamp, parking (bool) from OCPP charging states; an unknown state is an error."""
    normalised = states.with_columns(pl.col("charging_state").str.to_lowercase().str.replace_all(r"[\s_]", "").alias("_s"))
    unknown = normalised.filter(~pl.col("_s").is_in(list(PARKING_STATES | CHARGING_STATES)))
    if unknown.height:
        raise ValueError(f"unknown charging states: {sorted(set(unknown['charging_state'].to_list()))}")
    return normalised.select("session_id", "timestamp", pl.col("_s").is_in(list(PARKING_STATES)).alias("parking"))


def _csr(spans: pl.DataFrame, frame: pl.DataFrame | None, value: str, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if frame is None or frame.height == 0:
        return np.zeros(spans.height + 1, np.int64), np.zeros(0, np.int64), np.zeros(0, dtype)
    clean = frame.filter(pl.col(value).is_not_null()).unique(["session_id", "timestamp"], keep="last", maintain_order=True)
    ptr, ordered = csr_by_session(spans, clean)
    return ptr, ordered["timestamp"].dt.epoch("us").to_numpy(), ordered[value].cast(
        pl.Boolean if dtype is np.bool_ else pl.Float64).to_numpy().astype(dtype)


def split_charging_periods(
    curve: pl.DataFrame,
    spans: pl.DataFrame,
    *,
    power: pl.DataFrame | None = None,
    current: pl.DataFrame | None = None,
    states: pl.DataFrame | None = None,
    rules: Mapping[str, PriceChangeRules] | None = None,
    parking_threshold_w: float = PARKING_POWER_THRESHOLD_W,
) -> pl.DataFrame:
    """Cut each session into charging periods (see module docstring); returns `PERIOD_SCHEMA` rows.

    `curve`: session_id, timestamp, energy_wh (cleaned cumulative register). `spans`: session_id,
    start_utc, end_utc, time_zone and optionally `rule_key` naming an entry of `rules` (null or absent:
    cut at state switches only). `power`: session_id, timestamp, power_w; `current`: session_id,
    timestamp, current_a; `states`: session_id, timestamp, charging_state (OCPP names).
    """
    if spans.height == 0:
        return pl.DataFrame(schema=PERIOD_SCHEMA)
    spans = spans.sort("session_id")
    rules = dict(rules or {})
    keys = spans["rule_key"].to_list() if "rule_key" in spans.columns else [None] * spans.height
    missing = sorted({k for k in keys if k is not None and k not in rules})
    if missing:
        raise ValueError(f"no price-change rules for keys {missing[:5]}")
    rule_names = sorted(rules)
    rule_sets = [NO_RULES] + [rules[k] for k in rule_names]
    rule_index = np.asarray([0 if k is None else 1 + rule_names.index(k) for k in keys], dtype=np.int64)
    packed = pack_rules(rule_sets)

    r_ptr, ordered = csr_by_session(spans, curve)
    r_time = ordered["timestamp"].dt.epoch("us").to_numpy()
    r_wh = ordered["energy_wh"].cast(pl.Float64).to_numpy()
    p_ptr, p_time, p_w = _csr(spans, power, "power_w", np.float64)
    c_ptr, c_time, c_a = _csr(spans, current, "current_a", np.float64)
    flags = parking_flags(states) if states is not None and states.height else None
    st_ptr, st_time, st_parking = _csr(spans, flags, "parking", np.int8) if flags is not None else (
        np.zeros(spans.height + 1, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int8))

    start_us = spans["start_utc"].dt.epoch("us").to_numpy()
    end_us = spans["end_utc"].dt.epoch("us").to_numpy()
    zones = spans["time_zone"].to_list()
    timelines = build_zone_timelines(zones, int(start_us.min()), int(end_us.max()))
    zone_index = np.asarray([timelines.index(z) for z in zones], dtype=np.int64)
    (out_ptr, p_start, p_end, energy, parking, pmin, pmax, cmin, cmax) = split_sessions(
        start_us, end_us, zone_index, rule_index, r_ptr, r_time, r_wh, p_ptr, p_time, p_w, c_ptr, c_time, c_a,
        st_ptr, st_time, st_parking, packed.edge_ptr, packed.edge_s, packed.kwh_ptr, packed.kwh_wh,
        packed.duration_ptr, packed.duration_s, packed.idle_ptr, packed.idle_s, packed.power_ptr, packed.power_w,
        packed.current_ptr, packed.current_a, timelines.zone_ptr, timelines.segment_start_us,
        timelines.segment_offset_us, float(parking_threshold_w),
    )
    counts = np.diff(out_ptr)
    owner = np.repeat(np.arange(spans.height), counts)
    index = np.arange(out_ptr[-1]) - np.repeat(out_ptr[:-1], counts)
    seconds = (p_end - p_start) / 1e6
    frame = spans.select("session_id")[owner].with_columns(
        pl.Series("period_index", index, dtype=pl.Int32),
        pl.Series("start_utc", p_start).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        pl.Series("end_utc", p_end).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        pl.Series("state", np.where(parking, "PARKING", "CHARGING")).cast(pl.String),
        pl.Series("energy_wh", energy, dtype=pl.Int64),
        pl.Series("time_s", np.where(parking, 0.0, seconds)),
        pl.Series("parking_time_s", np.where(parking, seconds, 0.0)),
        pl.Series("min_power_w", pmin), pl.Series("max_power_w", pmax),
        pl.Series("min_current_a", cmin), pl.Series("max_current_a", cmax),
    )
    return frame.with_columns(pl.col(c).fill_nan(None) for c in ("min_current_a", "max_current_a")).select(
        list(PERIOD_SCHEMA)).cast(PERIOD_SCHEMA)


def _decimal_or_none(value: float | None, scale: float) -> Decimal | None:
    if value is None:
        return None
    return Decimal(repr(round(value / scale, 6)))


def to_engine_sessions(periods: pl.DataFrame, spans: pl.DataFrame,
                       electricity_rates: Mapping[tuple[str, int], Decimal] | None = None) -> list[Session]:
    """The periods as `tariff_engine.model.Session` objects (kWh, hours, kW), one per span, sorted by id.

    `electricity_rates` optionally maps (session_id, period_index) to the electricity price per kWh for
    ELECTRICITY_RATE-linked components.
    """
    rates = electricity_rates or {}
    by_session: dict[str, list[SessionPeriod]] = {}
    us_per_hour = Decimal(3_600_000_000)
    for row in periods.sort(["session_id", "period_index"]).iter_rows(named=True):
        duration_us = (row["end_utc"] - row["start_utc"]) // dt.timedelta(microseconds=1)
        hours = Decimal(duration_us) / us_per_hour
        parking = row["state"] == "PARKING"
        by_session.setdefault(row["session_id"], []).append(SessionPeriod(
            start=row["start_utc"],
            energy_kwh=Decimal(row["energy_wh"]) / 1000,
            time_h=Decimal(0) if parking else hours,
            parking_h=hours if parking else Decimal(0),
            min_current=_decimal_or_none(row["min_current_a"], 1.0),
            max_current=_decimal_or_none(row["max_current_a"], 1.0),
            min_power=_decimal_or_none(row["min_power_w"], 1000.0),
            max_power=_decimal_or_none(row["max_power_w"], 1000.0),
            electricity_rate=rates.get((row["session_id"], row["period_index"])),
        ))
    return [
        Session(id=row["session_id"], start=row["start_utc"], end=row["end_utc"], timezone=row["time_zone"],
                periods=tuple(by_session.get(row["session_id"], ())))
        for row in spans.sort("session_id").iter_rows(named=True)
    ]
