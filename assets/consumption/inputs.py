"""Reading what the consumption assets need from the warehouse, shaped for `tariff_engine.consumption`.

Meter data of a session may come from OCPP (`meter_readings`, joined on transaction_id = session_id,
plus the transaction's meterStart/meterStop and charging states) or from the platform's consumption
stats (`consumption_stats`, joined on session_id). Readings of every landing date are read, so late
frames count the next time the settlement partition runs.

The frames these functions return are keyed by the session's position among the chunk's sorted ids
(`session_ids`, `session_key`), a UInt32 in the `session_id` column: `meter_curves` sorts, groups and joins the
chunk's readings several times, and on the ids' strings that was most of its cost. The positions sort like the ids,
so every order is the one the ids would give; `meter_curves` puts the ids back before it writes.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from assets.columns import UTC
from assets.ingest.ocpp.transaction_days import reading_dates
from assets.session_batches import SessionBatch, read_batch
from resources.row_order import sorted_rows
from resources.warehouse import WarehouseResource
from tariff_engine.consumption.meter_curve import MAX_PLAUSIBLE_POWER_W
from tariff_engine.consumption.timezones import UnknownTimeZoneError, load_zone

REGISTER = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
CURRENT = "Current.Import"
# Readings taken elsewhere than at the outlet (EV, inlet, cable) measure something else than the
# delivered energy; a missing location means Outlet (OCPP default).
OUTLET = ("Outlet",)
SESSION_KEY = pl.UInt32
POINT_SCHEMA = {"session_id": SESSION_KEY, "timestamp": UTC, "value": pl.Float64, "record_ref": pl.String,
                "raw_payload": pl.String, "source": pl.String}


def _scan(warehouse: WarehouseResource, table: str) -> pl.LazyFrame | None:
    """The table, or None before it was ever written (a source not deployed, a first day)."""
    return warehouse.scan(table) if warehouse.has_data(table) else None


def _among(column: str, ids: list[str]) -> pl.Expr:
    """`column` is one of `ids`; the range test is implied by the membership but lets Parquet statistics skip the
    row groups outside a chunk's ids (`meter_curves` reads the sessions chunk by chunk)."""
    return pl.col(column).is_between(pl.lit(min(ids)), pl.lit(max(ids))) & pl.col(column).is_in(ids)


def load_sessions(warehouse: WarehouseResource, settlement_date: dt.date, batch: SessionBatch | None = None,
                  columns: list[str] | None = None) -> pl.DataFrame:
    """Sessions settling on `settlement_date` (the partition) that can be placed on a clock, sorted by
    id (only those of `batch`, and only `columns` besides the span columns, when given). A session without
    start, end or a known IANA zone cannot be (the sessions asset quarantines those); `unusable_sessions`
    lists them so the assets report them rather than skip them silently."""
    return load_batch_sessions(warehouse, settlement_date, batch, columns)[0]


SPAN_COLUMNS = ["session_id", "start_utc", "end_utc", "time_zone"]
"""The columns that place a session on the clock (what `unusable_sessions` tests)."""


def load_batch_sessions(warehouse: WarehouseResource, settlement_date: dt.date, batch: SessionBatch | None = None,
                        columns: list[str] | None = None) -> tuple[pl.DataFrame, int]:
    """`load_sessions` of one batch (every session when None), and how many of the batch it left out; only
    `columns` (besides `SPAN_COLUMNS`) when given: the raw payloads are most of a session's bytes."""
    wanted = None if columns is None else list(dict.fromkeys([*SPAN_COLUMNS, *columns]))
    if batch is None:
        sessions = warehouse.scan("sessions", settlement_date=settlement_date)
        sessions = (sessions if wanted is None else sessions.select(wanted)).collect()
    else:
        sessions = read_batch(warehouse, "sessions", batch, columns=wanted, settlement_date=settlement_date)
    unusable = unusable_sessions(sessions)
    return sessions.sort("session_id").filter(~pl.col("session_id").is_in(unusable)), len(unusable)


def unusable_sessions(sessions: pl.DataFrame) -> list[str]:
    """Ids of sessions with a missing start or end, an end before the start, or an unknown zone."""
    bad_zones = []
    for zone in sessions["time_zone"].drop_nulls().unique().to_list():
        try:
            load_zone(zone)
        except UnknownTimeZoneError:
            bad_zones.append(zone)
    bad = sessions.filter(
        pl.col("start_utc").is_null() | pl.col("end_utc").is_null() | (pl.col("end_utc") < pl.col("start_utc"))
        | pl.col("time_zone").is_null() | pl.col("time_zone").is_in(bad_zones))
    return bad["session_id"].to_list()


READINGS_SCHEMA = {"session_id": SESSION_KEY, "timestamp": UTC, "phase": pl.String, "context": pl.String,
                   "value": pl.Float64, "record_ref": pl.String, "value_raw": pl.String}


def session_ids(sessions: pl.DataFrame) -> pl.Series:
    """The sessions' ids, sorted and distinct: position i is the session whose key is i."""
    return sessions["session_id"].unique().sort()


def session_key(column: str, ids: pl.Series) -> pl.Expr:
    """`column` (one of `ids`) as the session's key: its position in `ids`."""
    return pl.col(column).replace_strict(ids, pl.Series(range(len(ids)), dtype=SESSION_KEY), return_dtype=SESSION_KEY)


def with_session_ids(frame: pl.DataFrame, ids: pl.Series) -> pl.DataFrame:
    """`frame` with its session keys turned back into the ids of `ids`."""
    return frame.with_columns(ids.gather(frame["session_id"]).alias("session_id"))


def outlet_readings(warehouse: WarehouseResource, ids: pl.Series,
                    measurands: tuple[str, ...] = (REGISTER, POWER, CURRENT)) -> dict[str, pl.DataFrame]:
    """The outlet readings of the sessions `ids` (see `session_ids`) per measurand, keyed, from one scan of
    `meter_readings` (the table holds every landing day's readings; scanning it once per measurand was most of
    `meter_curves`' cost)."""
    scan = _scan(warehouse, "meter_readings")
    if scan is None or ids.is_empty():
        return {m: pl.DataFrame(schema=READINGS_SCHEMA) for m in measurands}
    id_list = ids.to_list()
    # Only the landing dates that can hold these sessions' readings (the OCPP ingest's index): every partition
    # opened per chunk would make a night's cost grow with the warehouse's history.
    rows = (
        scan.filter(reading_dates(warehouse, id_list))
        .filter(_among("transaction_id", id_list) & pl.col("measurand").is_in(list(measurands))
                    & (pl.col("location").is_null() | pl.col("location").is_in(OUTLET)))
        .select(session_key("transaction_id", ids).alias("session_id"), "timestamp", "phase", "context", "value",
                "record_ref", "value_raw", "landing_date", "measurand")
        .collect()
    )
    # Power and current are reduced to the largest value per instant and phase downstream (`_phase_combined`,
    # `power_points`, `current_points`), so a reading that landed twice counts once without a first-landing sort
    # (two thirds of the rows); the register keeps the landing whose raw text it cites.
    return {m: (_first_landing if m == REGISTER else _any_landing)(rows.filter(pl.col("measurand") == m).drop("measurand"))
            for m in measurands}


def _first_landing(rows: pl.DataFrame) -> pl.DataFrame:
    """The same reading can land twice (replays across days): keep its first landing."""
    return (sorted_rows(rows, ["session_id", "timestamp", "phase", "context", "landing_date", "record_ref"], nulls_last=False)
            .unique(["session_id", "timestamp", "phase", "context", "value"], keep="first", maintain_order=True)
            .drop("landing_date"))


def _any_landing(rows: pl.DataFrame) -> pl.DataFrame:
    """The rows as they are, without the landing date: for measurands whose readings are only ever reduced by
    their largest value per instant, where a reading that landed twice is a harmless duplicate."""
    return rows.drop("landing_date")


def _readings(warehouse: WarehouseResource, ids: pl.Series, measurand: str,
              readings: dict[str, pl.DataFrame] | None) -> pl.DataFrame:
    """Readings of one measurand: from `readings` (see `outlet_readings`) when the caller read them already."""
    if readings is None:
        readings = outlet_readings(warehouse, ids, (measurand,))
    return readings[measurand]


def _phase_combined(rows: pl.DataFrame, prefer_overall: bool, keep_raw: bool = True) -> pl.DataFrame:
    """Phase-less rows as they are, plus, per (session, instant, context), the phases summed (a phase
    sent twice counts once, at its highest value). `prefer_overall` keeps only the phase-less value where
    both exist (registers, power); otherwise the phase sum wins (current is summed over phases).
    `keep_raw=False` leaves out record_ref and value_raw (power and current keep only the value; building the
    joined raw text of every instant was most of `current_points`' cost)."""
    keys = ["session_id", "timestamp", "context"]
    raw = ["record_ref", "value_raw"] if keep_raw else []
    overall = rows.filter(pl.col("phase").is_null()).select(*keys, "value", *raw)
    per_phase_raw = [pl.col("record_ref").min(), pl.col("value_raw").first()] if keep_raw else []
    joined_raw = [pl.col("record_ref").min(),
                  pl.concat_str([pl.col("phase"), pl.col("value_raw")], separator="=").sort().str.join(";")
                  .alias("value_raw")] if keep_raw else []
    phased = (
        rows.filter(pl.col("phase").is_not_null() & (pl.col("phase") != "N"))
        .group_by([*keys, "phase"]).agg(pl.col("value").max(), *per_phase_raw)
        .group_by(keys).agg(pl.col("value").sum(), *joined_raw)
    )
    if prefer_overall:
        phased = phased.join(overall.select(keys).unique(), on=keys, how="anti", nulls_equal=True)
    else:
        overall = overall.join(phased.select(keys).unique(), on=keys, how="anti", nulls_equal=True)
    return pl.concat([overall, phased.select(overall.columns)], how="vertical_relaxed")


def register_points(warehouse: WarehouseResource, ids: pl.Series,
                    readings: dict[str, pl.DataFrame] | None = None) -> tuple[pl.DataFrame, pl.Series]:
    """Register readings (Wh) of the sessions `ids` (see `session_ids`), keyed, with meterStart/meterStop
    anchors; and the key of the session of each anchor refused because it contradicts the readings (e.g. a
    lifetime meterStart with session-relative readings)."""
    ocpp = _phase_combined(_readings(warehouse, ids, REGISTER, readings), prefer_overall=True).select(
        "session_id", "timestamp", "value", "record_ref", pl.col("value_raw").alias("raw_payload"),
        pl.lit("meter_readings").alias("source"))
    stats_scan = _scan(warehouse, "consumption_stats")
    stats = pl.DataFrame(schema=POINT_SCHEMA)
    if stats_scan is not None and not ids.is_empty():
        stats = stats_scan.filter(_among("session_id", ids.to_list())).select(
            session_key("session_id", ids), "timestamp", pl.col("energy_wh").alias("value"), "record_ref",
            pl.col("raw_payload"), pl.lit("consumption_stats").alias("source")).collect()
    points = pl.concat([ocpp.cast(POINT_SCHEMA), stats.cast(POINT_SCHEMA)])
    anchors, refused = _anchors(warehouse, ids, points)
    return pl.concat([points, anchors]).sort(["session_id", "timestamp", "record_ref"]), refused


def latest_transactions(warehouse: WarehouseResource, ids: pl.Series) -> pl.DataFrame:
    """The current state (latest landing date) of the OCPP transactions of the sessions `ids`, keyed."""
    scan = _scan(warehouse, "transactions")
    if scan is None or ids.is_empty():
        return pl.DataFrame(schema={"session_id": SESSION_KEY, "start_timestamp": UTC, "stop_timestamp": UTC,
                                    "meter_start_wh": pl.Float64, "meter_stop_wh": pl.Float64,
                                    "charging_states": pl.List(pl.Struct({"timestamp": UTC, "state": pl.String}))})
    return (
        scan.filter(_among("transaction_id", ids.to_list()))
        .sort(["transaction_id", "landing_date"], descending=[False, True])
        .unique("transaction_id", keep="first", maintain_order=True)
        .select(session_key("transaction_id", ids).alias("session_id"), "start_timestamp", "stop_timestamp",
                "meter_start_wh", "meter_stop_wh", "charging_states")
        .collect()
    )


def _hours_between(a: str, b: str) -> pl.Expr:
    """Hours between two timestamp columns, at least one second (so an instant jump stays implausible)."""
    return ((pl.col(b) - pl.col(a)).dt.total_microseconds().abs() / 3.6e9).clip(lower_bound=1 / 3600)


def _anchors(warehouse: WarehouseResource, ids: pl.Series, points: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """meterStart/meterStop as register points, only where they agree with the readings: start at or
    below the first reading, stop at or above the last, each reachable at a plausible power."""
    tx = latest_transactions(warehouse, ids)
    candidates = pl.concat([
        tx.select("session_id", pl.col("start_timestamp").alias("timestamp"),
                  pl.col("meter_start_wh").alias("value"), pl.lit("start").alias("end")),
        tx.select("session_id", pl.col("stop_timestamp").alias("timestamp"),
                  pl.col("meter_stop_wh").alias("value"), pl.lit("stop").alias("end")),
    ]).drop_nulls(["timestamp", "value"])
    # A reading at the same instant already says what the register was; the anchor adds nothing.
    candidates = candidates.join(points.select("session_id", "timestamp").unique(), on=["session_id", "timestamp"],
                                 how="anti")
    if candidates.height == 0:
        return pl.DataFrame(schema=POINT_SCHEMA), pl.Series("session_id", [], dtype=SESSION_KEY)
    bounds = points.sort(["session_id", "timestamp"]).group_by("session_id").agg(
        pl.col("timestamp").first().alias("t_first"), pl.col("value").first().alias("v_first"),
        pl.col("timestamp").last().alias("t_last"), pl.col("value").last().alias("v_last"))
    joined = candidates.join(bounds, on="session_id", how="left")
    start_ok = (pl.col("v_first").is_null() | ((pl.col("value") <= pl.col("v_first"))
                & (pl.col("v_first") - pl.col("value") <= MAX_PLAUSIBLE_POWER_W * _hours_between("timestamp", "t_first"))))
    stop_ok = (pl.col("v_last").is_null() | ((pl.col("value") >= pl.col("v_last"))
               & (pl.col("value") - pl.col("v_last") <= MAX_PLAUSIBLE_POWER_W * _hours_between("t_last", "timestamp"))))
    ok = pl.when(pl.col("end") == "start").then(start_ok).otherwise(stop_ok)
    accepted = joined.filter(ok)
    anchors = accepted.with_columns(ids.gather(accepted["session_id"]).alias("id")).select(
        "session_id", "timestamp", "value",
        pl.format("transaction:{}:meter_{}", pl.col("id"), pl.col("end")).alias("record_ref"),
        pl.col("value").cast(pl.String).alias("raw_payload"), pl.lit("transaction").alias("source"),
    ).cast(POINT_SCHEMA)
    return anchors, joined.filter(~ok.fill_null(False)).get_column("session_id")


def power_points(warehouse: WarehouseResource, ids: pl.Series,
                 readings: dict[str, pl.DataFrame] | None = None) -> pl.DataFrame:
    """session_id (keyed), timestamp, power_w of the sessions `ids`: OCPP Power.Active.Import (phase-less, else
    phases summed) or the platform's consumption-stats power."""
    ocpp = _phase_combined(_readings(warehouse, ids, POWER, readings), prefer_overall=True, keep_raw=False)
    frames = [ocpp.group_by(["session_id", "timestamp"]).agg(pl.col("value").max().alias("power_w"))]
    stats_scan = _scan(warehouse, "consumption_stats")
    if stats_scan is not None and not ids.is_empty():
        frames.append(stats_scan.filter(_among("session_id", ids.to_list()) & pl.col("power_w").is_not_null())
                      .select(session_key("session_id", ids), "timestamp", "power_w").collect())
    return pl.concat([f.cast({"session_id": SESSION_KEY, "timestamp": UTC, "power_w": pl.Float64}) for f in frames]) \
        .unique(["session_id", "timestamp"], keep="first").sort(["session_id", "timestamp"])


def current_points(warehouse: WarehouseResource, ids: pl.Series,
                   readings: dict[str, pl.DataFrame] | None = None) -> pl.DataFrame:
    """session_id (keyed), timestamp, current_a of the sessions `ids`: OCPP Current.Import summed over phases
    (phase-less if only that)."""
    rows = _phase_combined(_readings(warehouse, ids, CURRENT, readings), prefer_overall=False, keep_raw=False)
    return rows.group_by(["session_id", "timestamp"]).agg(pl.col("value").max().alias("current_a")) \
        .cast({"session_id": SESSION_KEY, "timestamp": UTC, "current_a": pl.Float64}).sort(["session_id", "timestamp"])


def charging_states(warehouse: WarehouseResource, ids: pl.Series) -> pl.DataFrame:
    """session_id (keyed), timestamp, charging_state of the sessions `ids` from the OCPP transactions' state
    changes."""
    tx = latest_transactions(warehouse, ids)
    exploded = tx.select("session_id", "charging_states").explode("charging_states")
    return exploded.drop_nulls("charging_states").select(
        "session_id", pl.col("charging_states").struct.field("timestamp").alias("timestamp"),
        pl.col("charging_states").struct.field("state").alias("charging_state"),
    ).drop_nulls().unique(["session_id", "timestamp"], keep="last", maintain_order=True).sort(["session_id", "timestamp"])
