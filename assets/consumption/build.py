"""What each consumption asset computes for one settlement date, kept apart from the Dagster wiring.

Each function reads the warehouse, calls the `tariff_engine.consumption` library and returns the table
to write plus the figures (metadata, rejections, conservation mismatches) the asset reports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import polars as pl

from assets.consumption import curve_cache, inputs, period_cache
from assets.consumption.cdr_periods import cdr_periods, periods_frame
from assets.consumption.tables import CHARGING_PERIODS, CLOCK_ALIGNED, ELECTRICITY_COST, METER_CURVES, PARTITION
from assets.parallel import map_groups, usable_cores
from assets.pricing.session_tariffs import TariffBook, choose_tariffs, load_tariff_book
from assets.quarantine import Rejection
from assets.session_batches import LIGHT_SESSIONS_PER_BATCH, SESSIONS_PER_BATCH, SessionBatch, SpilledParts, batches_of, read_batch, session_batches
from resources.warehouse import WarehouseResource
from tariff_engine.consumption.aligned import align_sessions, register_delta
from tariff_engine.consumption.electricity import RateError, electricity_cost as price_intervals, parse_electricity_rate
from tariff_engine.consumption.electricity import session_electricity_cost as library_session_cost
from tariff_engine.consumption.meter_curve import DROPPED_REASONS, clean_register
from tariff_engine.consumption.periods import CHARGING_STATES, PARKING_STATES, split_charging_periods
from tariff_engine.consumption.price_changes import rules_from_tariff

REASONS = {
    "INVALID_REGISTER_VALUE": "Register value is missing, not a number or negative.",
    "CLOCK_NOT_SET": "Reading timestamp is before 2000-01-01 (charger clock not set).",
    "DUPLICATE_TIMESTAMP": "Another, higher register value exists for the same instant.",
    "SPURIOUS_ZERO": "A zero register value that the neighbouring readings contradict.",
    "DROPOUT": "A register value below the previous one that the next reading contradicts.",
    "SPIKE": "A register jump beyond any charger's power that the next reading undoes.",
}


@dataclass
class BuildResult:
    """A table to write and what the asset reports about it."""

    table: pl.DataFrame
    metadata: dict = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)
    rows_in: int = 0
    rows_accepted: int = 0
    mismatches: pl.DataFrame = field(default_factory=pl.DataFrame)
    checked: int = 0
    session_figures: pl.DataFrame = field(default_factory=pl.DataFrame)
    reuse_key: str | None = None
    reused: int = 0


def _spans(sessions: pl.DataFrame) -> pl.DataFrame:
    return sessions.select("session_id", "start_utc", "end_utc", "time_zone")


SESSIONS_PER_CHUNK = 1024
"""Sessions whose meter data `meter_curves` holds at a time: its memory follows this, not the size of the day."""

POOLED_CHUNKS = 16
"""A day with this many chunks or more has its chunks built on every core (`assets.parallel`); a smaller one in
this process, as starting the workers costs a few CPU-seconds (they are kept, and the OCPP shards of a large
landing date have usually started them)."""


def meter_curves(warehouse: WarehouseResource, day: dt.date, write_part: Callable[[pl.DataFrame], None],
                 sessions_per_chunk: int = SESSIONS_PER_CHUNK,
                 reused: pl.DataFrame | None = None) -> BuildResult:
    """Clean the registers of the day's sessions and join power, current and charging states.

    The sessions are taken in chunks of consecutive ids (`assets.session_batches`; every step works per
    session, so a chunk's curve is that of its sessions alone) and each chunk's curve rows, in the table's order,
    go to `write_part`, in chunk order whichever process built them; the result carries the rejections and the
    figures of all chunks, an empty table, and `session_figures` (`curve_cache.SESSION_FIGURES`) of every
    session. `reused`: figures of sessions whose rows are taken from the date's `meter_curves` partition as it is
    instead of being built again (`curve_cache.plan`).
    """
    reused = curve_cache.empty_figures() if reused is None else reused
    day_ids = warehouse.scan("sessions", settlement_date=day).select("session_id").collect().get_column("session_id")
    batches = batches_of(day_ids, sessions_per_chunk)
    roots = (warehouse.root, warehouse.local_root)
    # A batch whose sessions are all reused costs a read, not a build: only the others count towards the pool.
    to_build = day_ids.filter(~day_ids.is_in(reused.get_column("session_id").implode())).to_frame()
    built_batches = sum(1 for batch in batches if not to_build.filter(batch.where()).is_empty())
    workers = usable_cores() if built_batches >= POOLED_CHUNKS else 1
    usable = unusable = 0
    figures: list[pl.DataFrame] = []
    arguments = ((roots, day, batch, _ids_in(reused, batch)) for batch in batches)
    for table, built, taken, chunk_usable, chunk_unusable in map_groups(
            _meter_curve_batch, arguments, len(batches), workers):
        usable, unusable = usable + chunk_usable, unusable + chunk_unusable
        write_part(table)
        figures += [built, reused.filter(pl.col("session_id").is_in(taken.implode()))]
    session_figures = pl.concat(figures).sort("session_id") if figures else curve_cache.empty_figures()
    result = _curve_summary(session_figures, usable, unusable)
    result.session_figures = session_figures
    return result


def _ids_in(figures: pl.DataFrame, batch: SessionBatch) -> pl.Series:
    return figures.filter(batch.where()).get_column("session_id")


def _curve_summary(figures: pl.DataFrame, usable: int, unusable: int) -> BuildResult:
    """The figures and rejections `meter_curves` reports, from its sessions' figures (in session order)."""
    totals = figures.select(pl.col(c).sum() for c in curve_cache.COUNT_COLUMNS).row(0, named=True)
    dropped = figures.select(pl.col("rejections").explode()).drop_nulls().unnest("rejections")
    rejections = [Rejection(source=source, record_ref=ref, reason_code=code, reason=REASONS[code], raw_payload=raw)
                  for source, ref, code, raw in dropped.select("source", "record_ref", "reason_code",
                                                               "raw_payload").iter_rows()]
    with_curve = figures.filter(pl.col("rows_accepted") > 0).height
    metadata = {
        "sessions": usable,
        "sessions_unusable": unusable,
        "sessions_with_curve": with_curve,
        "sessions_without_meter_data": usable - with_curve,
        **{name: int(totals[name] or 0) for name in ("rows_in", "rows_accepted")},
        "rows_quarantined": len(rejections),
        **{name: int(totals[name] or 0) for name in ("resets_bridged", "anchors_refused", "power_points",
                                                    "current_points", "charging_state_changes")},
        **{f"repair_{code.lower()}": count for code, count in
           dropped.group_by("reason_code").len().sort("reason_code").iter_rows()},
    }
    return BuildResult(table=METER_CURVES.empty_frame(), metadata=metadata, rejections=rejections,
                       rows_in=metadata["rows_in"], rows_accepted=metadata["rows_accepted"])


def _meter_curve_batch(roots: tuple[str, str], day: dt.date, batch: SessionBatch,
                       reused_ids: pl.Series) -> tuple[pl.DataFrame, pl.DataFrame, pl.Series, int, int]:
    """One chunk of the day's sessions: (its curve rows, the figures of the sessions built, the ids of the sessions
    whose rows were taken from the partition in place, usable and unusable sessions). Run by a pool worker too, so
    the warehouse comes as its roots (a resource is not sent to another process)."""
    warehouse = WarehouseResource(root=roots[0], local_root=roots[1])
    # Only the columns that place a session on the clock: the raw payloads are most of a session's bytes.
    sessions, left_out = inputs.load_batch_sessions(warehouse, day, batch, columns=[])
    taken = sessions.filter(pl.col("session_id").is_in(reused_ids.implode())).get_column("session_id")
    to_build = sessions.filter(~pl.col("session_id").is_in(taken.implode()))
    if to_build.is_empty() and taken.len():
        table, figures = METER_CURVES.empty_frame(), curve_cache.empty_figures()
    else:
        table, figures = _meter_curve_chunk(warehouse, day, to_build)
    if taken.len():
        kept = (warehouse.scan(METER_CURVES, **{PARTITION: day})
                .filter(batch.where() & pl.col("session_id").is_in(taken.implode())).collect())
        table = pl.concat([table, kept.select(table.columns)])
    return table, figures, taken, sessions.height, left_out


def _meter_curve_chunk(warehouse: WarehouseResource, day: dt.date,
                       sessions: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The curve of some of the day's sessions, and each session's figures (`curve_cache.SESSION_FIGURES`)."""
    # The inputs are keyed by the session's position among the chunk's ids (`inputs.session_ids`).
    ids = inputs.session_ids(sessions)
    readings = inputs.outlet_readings(warehouse, ids)
    points, anchors_refused = inputs.register_points(warehouse, ids, readings)
    curve, repairs = clean_register(points.rename({"value": "energy_wh"}))
    dropped = repairs.filter(pl.col("reason_code").is_in(DROPPED_REASONS))
    power = inputs.power_points(warehouse, ids, readings)
    current = inputs.current_points(warehouse, ids, readings)
    states = inputs.charging_states(warehouse, ids)
    long = pl.concat([
        curve.select("session_id", "timestamp", "energy_wh", "reset_bridged", "source"),
        power.with_columns(pl.lit("meter_readings").alias("source")),
        current.with_columns(pl.lit("meter_readings").alias("source")),
        states.with_columns(pl.lit("transaction").alias("source")),
    ], how="diagonal_relaxed")
    # One row per instant: the stable sort keeps the frames' order within an instant (curve first), so each
    # column's first non-null value is the same as an unordered group_by's, and the groups come out in the
    # table's order without a second sort (half the cost of group_by then sort).
    table = inputs.with_session_ids(long.sort(["session_id", "timestamp"], maintain_order=True).group_by(
        ["session_id", "timestamp"], maintain_order=True).agg(
        pl.col("energy_wh").first(ignore_nulls=True), pl.col("power_w").first(ignore_nulls=True),
        pl.col("current_a").first(ignore_nulls=True), pl.col("charging_state").first(ignore_nulls=True),
        pl.col("reset_bridged").fill_null(False).any(), pl.col("source").min(),
    ), ids).with_columns(pl.lit(day).alias(PARTITION)).select(list(METER_CURVES.schema))
    per_session = {
        "rows_in": points.get_column("session_id"),
        "rows_accepted": curve.get_column("session_id"),
        "resets_bridged": curve.filter(pl.col("reset_bridged")).get_column("session_id"),
        "anchors_refused": anchors_refused,
        "power_points": power.get_column("session_id"),
        "current_points": current.get_column("session_id"),
        "charging_state_changes": states.get_column("session_id"),
    }
    figures = pl.DataFrame({"session_id": pl.Series(range(ids.len()), dtype=inputs.SESSION_KEY)})
    for name, keys in per_session.items():
        figures = figures.join(keys.cast(inputs.SESSION_KEY).rename("session_id").value_counts(name=name),
                               on="session_id", how="left", maintain_order="left")
    # A session's rejections keep the order `clean_register` gives (session, time, value): concatenated in session
    # order they are the order of a whole-day run.
    rejections = dropped.group_by("session_id", maintain_order=True).agg(
        pl.struct("source", "record_ref", "reason_code", "raw_payload").alias("rejections"))
    figures = inputs.with_session_ids(
        figures.join(rejections, on="session_id", how="left", maintain_order="left"), ids)
    return table, figures.with_columns(pl.col(c).fill_null(0) for c in curve_cache.COUNT_COLUMNS).cast(
        curve_cache.SESSION_FIGURES).select(list(curve_cache.SESSION_FIGURES))


def _energy_curve(warehouse: WarehouseResource, day: dt.date, batch: SessionBatch,
                  columns: list[str] | None = None) -> pl.DataFrame:
    """The meter curves of one batch of the day's sessions (only `columns` when given)."""
    return read_batch(warehouse, METER_CURVES.name, batch, columns=columns, **{PARTITION: day})


def tariff_rules(warehouse: WarehouseResource, sessions: pl.DataFrame,
                 book: TariffBook | None = None) -> tuple[dict, dict]:
    """Price-change rules per pricing key, and the pricing key and tariff id of each session.

    The tariff is the one `priced_sessions` prices with (`assets.pricing.session_tariffs.choose_tariffs`:
    sealed in the record, else the record's tariff_ids, else the EVSE's of the session's own family), so every
    moment its price can change is a period boundary. A session without one is cut at charging/parking
    switches only.
    """
    choices, pricing = choose_tariffs(sessions, book or load_tariff_book(warehouse))
    chosen = choices.filter(pl.col("pricing_key").is_not_null())
    # Sessions sealing the same tariff have keys of their own but share one Tariff object: its rules are built once.
    rules_of: dict[int, object] = {}
    rules = {}
    for key in chosen["pricing_key"].unique().sort().to_list():
        tariff = pricing[key]
        if id(tariff) not in rules_of:
            rules_of[id(tariff)] = rules_from_tariff(tariff)
        rules[key] = rules_of[id(tariff)]
    return rules, {session_id: (key, tariff_id) for session_id, key, tariff_id in
                   chosen.select("session_id", "pricing_key", "tariff_id").iter_rows()}


def totals_curves(sessions: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The meter curve and charging states implied by a session known only by its totals.

    The source says how long the car was plugged in, how much of that was parking (after charging) and how
    much energy it took: charging runs from the start at constant power, parking follows until the end (a
    session without energy is parking throughout).
    As (register points, charging states) for `split_charging_periods`, so these sessions are cut at the same
    price changes (idle-fee grace, time windows, kWh and duration thresholds) as metered ones.
    """
    # A session that delivered no energy never charged: all of it is parking (average power 0 W, below the
    # PARKING_POWER_THRESHOLD_W the metered curves are cut by).
    parking = pl.when(pl.col("energy_wh").fill_null(0) > 0).then(
        pl.duration(seconds=pl.col("parking_time_s").fill_null(0).clip(lower_bound=0))
    ).otherwise(pl.col("end_utc") - pl.col("start_utc"))
    switch = pl.max_horizontal(pl.col("start_utc"), pl.col("end_utc") - parking).alias("timestamp")
    energy = pl.col("energy_wh").fill_null(0).round(0)
    curve = pl.concat([
        sessions.select("session_id", pl.col("start_utc").alias("timestamp"), pl.lit(0.0).alias("energy_wh")),
        sessions.select("session_id", switch, energy.alias("energy_wh")),
        sessions.select("session_id", pl.col("end_utc").alias("timestamp"), energy.alias("energy_wh")),
    ]).unique(["session_id", "timestamp"], keep="first", maintain_order=True).sort(["session_id", "timestamp"])
    states = pl.concat([
        sessions.filter(pl.col("start_utc") < switch).select(
            "session_id", pl.col("start_utc").alias("timestamp"), pl.lit("Charging").alias("charging_state")),
        sessions.filter(switch < pl.col("end_utc")).select(
            "session_id", switch, pl.lit("SuspendedEV").alias("charging_state")),
    ]).sort(["session_id", "timestamp"])
    return curve, states


def _keep_fractional_wh(periods: pl.DataFrame, sessions: pl.DataFrame) -> pl.DataFrame:
    """The cutter works in whole Wh; a total with a fraction of a Wh (OCPI kWh with more than 3 decimals)
    keeps that fraction on the session's last charging period (else its last period), so periods still sum
    to the reported energy."""
    totals = sessions.select("session_id", pl.col("energy_wh").fill_null(0).alias("_total"))
    last = (periods.with_columns((pl.col("state") == "CHARGING").alias("_charging"))
            .sort(["session_id", "_charging", "period_index"])
            .group_by("session_id").last().select("session_id", pl.col("period_index").alias("_last")))
    summed = periods.group_by("session_id").agg(pl.col("energy_wh").sum().alias("_summed"))
    return (periods.cast({"energy_wh": pl.Float64}).join(totals, on="session_id").join(last, on="session_id")
            .join(summed, on="session_id")
            .with_columns(pl.when(pl.col("period_index") == pl.col("_last"))
                          .then(pl.col("energy_wh") + pl.col("_total") - pl.col("_summed"))
                          .otherwise(pl.col("energy_wh")).alias("energy_wh"))
            .drop("_total", "_last", "_summed"))


def _summed(figures: list[dict]) -> dict:
    """Per-batch counts added up, in the first batch's key order."""
    total: dict = {}
    for one in figures:
        for name, value in one.items():
            total[name] = total.get(name, 0) + value
    return total


def charging_periods(warehouse: WarehouseResource, day: dt.date, sessions_per_batch: int = SESSIONS_PER_BATCH,
                     started: period_cache.Plan | None = None) -> BuildResult:
    """Periods of the day's sessions: cut from curves where metered, the CDR's own where delivered, else
    cut from the curve the session's totals imply (`totals_curves`); all cut at their tariff's price changes.

    Batch by batch of sessions (`assets.session_batches`): only the periods, the narrow result, are held for
    the whole day, and written in one piece so the file's bytes are those of one write. `started`: the saved
    figures of the date's previous run (`period_cache.plan`); a session whose row and curve are unchanged under
    the same tariff book keeps the periods the partition in place holds. The result carries every session's
    figures (`period_cache.SESSION_FIGURES`) and the book's key, to be saved once the partition is written."""
    book = load_tariff_book(warehouse)
    key = period_cache.book_key(book.fingerprint)
    saved = period_cache.empty_figures() if started is None else started.under(key)
    result = _batch_by_batch(warehouse, day, "charging_periods", sessions_per_batch, CHARGING_PERIODS.empty_frame(),
                             lambda batch: _charging_periods_batch(warehouse, day, batch, book, saved))
    result.reuse_key = key
    return result


def _batch_by_batch(warehouse: WarehouseResource, day: dt.date, name: str, sessions_per_batch: int,
                    empty: pl.DataFrame, build: Callable[[SessionBatch], BuildResult]) -> BuildResult:
    """``build`` over the day's session batches: their tables spilled and read back as one (``empty`` when
    there are none), their figures summed, their mismatches and checked counts gathered."""
    figures, mismatches, checked, per_session, reused = [], [], 0, [], 0
    with SpilledParts(warehouse, f"{name}-{day}") as tables:
        for batch in session_batches(warehouse, day, sessions_per_batch):
            part = build(batch)
            tables.append(part.table)
            figures.append(part.metadata)
            mismatches.append(part.mismatches)
            per_session.append(part.session_figures)
            checked, reused = checked + part.checked, reused + part.reused
        table = tables.read(empty)
    return BuildResult(table=table, metadata=_summed(figures), mismatches=pl.concat(mismatches), checked=checked,
                       session_figures=pl.concat(per_session, how="diagonal_relaxed"), reused=reused)


def _charging_periods_batch(warehouse: WarehouseResource, day: dt.date, batch: SessionBatch, book: TariffBook,
                            saved: pl.DataFrame) -> BuildResult:
    """`charging_periods` of one batch of the day's sessions; a session whose digest (`period_cache.digests`) is in
    `saved` keeps its periods from the partition in place, the others are cut (`_cut_periods`)."""
    sessions, unusable = inputs.load_batch_sessions(warehouse, day, batch)
    curves = _energy_curve(warehouse, day, batch)
    digests = period_cache.digests(sessions, curves)
    kept_ids = digests.join(saved, on=period_cache.DIGEST, how="semi").get_column("session_id")
    kept = pl.col("session_id").is_in(kept_ids.implode())
    to_cut = sessions.filter(~kept)
    table, figures = (_cut_periods(warehouse, day, to_cut, curves.filter(~kept), book) if to_cut.height or not kept_ids.len()
                      else (CHARGING_PERIODS.empty_frame(), period_cache.empty_figures().drop("digest_1", "digest_2")))
    figures = pl.concat([
        figures.join(digests, on="session_id", how="left").select(list(period_cache.SESSION_FIGURES)),
        saved.join(kept_ids.to_frame(), on="session_id", how="semi"),
    ]).sort("session_id")
    if kept_ids.len():
        previous = read_batch(warehouse, CHARGING_PERIODS.name, batch, **{PARTITION: day}).filter(kept)
        table = pl.concat([table, previous.select(table.columns)]).sort(["session_id", "period_index"])
    metered = figures.filter(pl.col("metered") == 1)
    mismatches = metered.filter(pl.col("period_wh").fill_null(0) != pl.col("expected_wh")).select(
        "session_id", "expected_wh", "period_wh")
    metadata = {
        "sessions": sessions.height, "periods": table.height,
        "sessions_unusable": unusable,
        "sessions_metered": metered.height,
        "sessions_with_tariff_rules": int(figures["with_tariff_rules"].sum()),
        "sessions_cdr_periods": int(figures["cdr_periods"].sum()),
        "sessions_totals_only": int(figures["totals_only"].sum()),
        "unknown_charging_states": int(figures["unknown_charging_states"].sum()),
        "parking_periods": int((table["state"] == "PARKING").sum()),
    }
    return BuildResult(table=table, metadata=metadata, mismatches=mismatches, checked=metered.height,
                       session_figures=figures, reused=kept_ids.len())


def _cut_periods(warehouse: WarehouseResource, day: dt.date, sessions: pl.DataFrame, curves: pl.DataFrame,
                 book: TariffBook) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the periods of `sessions` from their `curves`, each session's figures: how it was cut, its unknown charging
    states and, when metered, its register delta and period energy)."""
    energy = curves.filter(pl.col("energy_wh").is_not_null()).select("session_id", "timestamp", "energy_wh")
    metered_ids = set(energy["session_id"].unique().to_list())
    metered = sessions.filter(pl.col("session_id").is_in(list(metered_ids)))
    rules, chosen = tariff_rules(warehouse, sessions, book)
    rule_key = pl.col("session_id").replace_strict({s: k for s, (k, _) in chosen.items()}, default=None,
                                                   return_dtype=pl.String).alias("rule_key")
    tariff_of = pl.col("session_id").replace_strict({s: t for s, (_, t) in chosen.items()}, default=None,
                                                    return_dtype=pl.String).alias("tariff_id")
    known_states = PARKING_STATES | CHARGING_STATES
    states_all = curves.filter(pl.col("charging_state").is_not_null()).select("session_id", "timestamp",
                                                                              "charging_state")
    normalised = pl.col("charging_state").str.to_lowercase().str.replace_all(r"[\s_]", "")
    states = states_all.filter(normalised.is_in(list(known_states)))
    metered_periods = split_charging_periods(
        energy, _spans(metered).with_columns(rule_key),
        power=curves.filter(pl.col("power_w").is_not_null()).select("session_id", "timestamp", "power_w"),
        current=curves.filter(pl.col("current_a").is_not_null()).select("session_id", "timestamp", "current_a"),
        states=states, rules=rules,
    ).with_columns(pl.lit("meter").alias("method")).cast({"energy_wh": pl.Float64})
    cdr_rows: list[dict] = []
    totals_ids: list[str] = []
    unmetered = sessions.filter(~pl.col("session_id").is_in(list(metered_ids)))
    for row in unmetered.select("session_id", "source", "raw_payload", "time_zone", "end_utc").iter_rows(named=True):
        rows, _ = cdr_periods(row) if row["source"] in ("ocpi_cdr", "cpms_cdr") else ([], "NO_CDR_PERIODS")
        if rows:
            cdr_rows += rows
        else:
            totals_ids.append(row["session_id"])
    from_cdrs = periods_frame(cdr_rows).with_columns(pl.lit("cdr").alias("method"))
    totals = sessions.filter(pl.col("session_id").is_in(totals_ids))
    totals_curve, totals_states = totals_curves(totals)
    from_totals = split_charging_periods(totals_curve, _spans(totals).with_columns(rule_key), states=totals_states,
                                         rules=rules) if totals.height else periods_frame([])
    from_totals = _keep_fractional_wh(from_totals, totals).with_columns(pl.lit("totals").alias("method"))
    table = pl.concat([metered_periods, from_cdrs.select(metered_periods.columns),
                       from_totals.select(metered_periods.columns)]) \
        .with_columns(tariff_of, pl.lit(day).alias(PARTITION)).select(list(CHARGING_PERIODS.schema)) \
        .sort(["session_id", "period_index"])
    expected = register_delta(energy, _spans(metered))
    got = metered_periods.group_by("session_id").agg(pl.col("energy_wh").sum().alias("period_wh"))
    unknown = states_all.filter(~normalised.is_in(list(known_states))).group_by("session_id").len("unknown")

    def flag(ids) -> pl.Expr:
        return pl.col("session_id").is_in(pl.Series(list(ids), dtype=pl.String).implode()).cast(pl.Int64)

    figures = sessions.select("session_id").with_columns(
        flag(metered_ids).alias("metered"), flag(chosen).alias("with_tariff_rules"),
        flag(from_cdrs["session_id"].unique().to_list()).alias("cdr_periods"), flag(totals_ids).alias("totals_only"),
    ).join(unknown, on="session_id", how="left", maintain_order="left").join(
        expected, on="session_id", how="left", maintain_order="left").join(
        got, on="session_id", how="left", maintain_order="left").with_columns(
        pl.col("unknown").fill_null(0).alias("unknown_charging_states"))
    return table, figures.select("session_id", *period_cache.COUNT_COLUMNS, "expected_wh", "period_wh").cast(
        {name: pl.Int64 for name in (*period_cache.COUNT_COLUMNS, "expected_wh")} | {"period_wh": pl.Float64})


def _interval_data(warehouse: WarehouseResource, sessions: pl.DataFrame) -> pl.DataFrame:
    """Delivered 30-minute interval data of the sessions (latest landing per interval) as cumulative
    register points: 0 at the first interval start, then the running sum at each interval end."""
    empty = pl.DataFrame(schema={"session_id": pl.String, "timestamp": inputs.UTC, "energy_wh": pl.Float64})
    if not warehouse.has_data("interval_charge_intervals"):
        return empty
    ids = sessions["session_id"].to_list()
    rows = (warehouse.scan("interval_charge_intervals").filter(pl.col("session_id").is_in(ids))
            .sort(["session_id", "interval_start_utc", "landing_date"], descending=[False, False, True])
            .unique(["session_id", "interval_start_utc"], keep="first", maintain_order=True)
            .sort(["session_id", "interval_start_utc"]).collect())
    if rows.height == 0:
        return empty
    ends = rows.select("session_id", pl.col("interval_end_utc").alias("timestamp"),
                       pl.col("energy_wh").cum_sum().over("session_id").alias("energy_wh"))
    firsts = rows.group_by("session_id").agg(pl.col("interval_start_utc").min().alias("timestamp")).with_columns(
        pl.lit(0.0).alias("energy_wh"))
    return pl.concat([firsts.select(empty.columns), ends.select(empty.columns)]).cast(empty.schema) \
        .sort(["session_id", "timestamp"])


def clock_aligned(warehouse: WarehouseResource, day: dt.date, interval_minutes: int,
                  sessions_per_batch: int = SESSIONS_PER_BATCH) -> BuildResult:
    """Clock-aligned intervals of the day's sessions by the best available data (module docstring), batch by
    batch of sessions (only the intervals, the narrow result, are held for the whole day)."""
    result = _batch_by_batch(warehouse, day, "clock_aligned", sessions_per_batch, CLOCK_ALIGNED.empty_frame(),
                             lambda batch: _clock_aligned_batch(warehouse, day, interval_minutes, batch))
    result.metadata["energy_kwh"] = round(int(result.table["energy_wh"].sum() or 0) / 1000, 3)
    result.metadata["interval_minutes"] = interval_minutes
    return result


def _clock_aligned_batch(warehouse: WarehouseResource, day: dt.date, interval_minutes: int,
                         batch: SessionBatch) -> BuildResult:
    """`clock_aligned` of one batch of the day's sessions (the day's energy_kwh is the caller's figure)."""
    sessions, unusable = inputs.load_batch_sessions(warehouse, day, batch, columns=["energy_wh"])
    curves = _energy_curve(warehouse, day, batch, columns=["session_id", "timestamp", "energy_wh"])
    energy = curves.filter(pl.col("energy_wh").is_not_null()).select("session_id", "timestamp", "energy_wh")
    metered_ids = energy["session_id"].unique().to_list()
    rest = sessions.filter(~pl.col("session_id").is_in(metered_ids))
    interval_curve = _interval_data(warehouse, rest)
    interval_ids = interval_curve["session_id"].unique().to_list()
    estimated = rest.filter(~pl.col("session_id").is_in(interval_ids))
    # Totals only: constant power from start to end (the documented spreading rule).
    uniform = pl.concat([
        estimated.select("session_id", pl.col("start_utc").alias("timestamp"), pl.lit(0.0).alias("energy_wh")),
        estimated.select("session_id", pl.col("end_utc").alias("timestamp"),
                         pl.col("energy_wh").cast(pl.Float64).round(0).alias("energy_wh")),
    ])
    groups = [
        (sessions.filter(pl.col("session_id").is_in(metered_ids)), energy, "meter", False),
        (rest.filter(pl.col("session_id").is_in(interval_ids)), interval_curve, "interval_data", False),
        (estimated, uniform, "estimated_uniform", True),
    ]
    frames, expected = [], []
    for group, curve, method, is_estimated in groups:
        spans = _spans(group)
        if method == "interval_data":
            # Delivered intervals may start before or end after the session's own times.
            bounds = curve.group_by("session_id").agg(pl.col("timestamp").min().alias("lo"), pl.col("timestamp").max().alias("hi"))
            spans = spans.join(bounds, on="session_id", how="left").with_columns(
                pl.min_horizontal("start_utc", "lo").alias("start_utc"), pl.max_horizontal("end_utc", "hi").alias("end_utc")
            ).drop("lo", "hi")
        aligned = align_sessions(curve, spans, interval_minutes)
        frames.append(aligned.with_columns(pl.lit(method).alias("method"), pl.lit(is_estimated).alias("is_estimated")))
        expected.append(register_delta(curve, spans))
    table = pl.concat(frames).with_columns(
        pl.lit(interval_minutes).cast(pl.Int32).alias("interval_minutes"), pl.lit(day).alias(PARTITION),
    ).select(list(CLOCK_ALIGNED.schema)).sort(["session_id", "interval_start_utc"])
    got = table.group_by("session_id").agg(pl.col("energy_wh").sum().alias("interval_wh"))
    mismatches = pl.concat(expected).join(got, on="session_id", how="left").filter(
        pl.col("interval_wh").fill_null(0) != pl.col("expected_wh"))
    metered_energy = register_delta(energy, _spans(sessions.filter(pl.col("session_id").is_in(metered_ids))))
    drift = metered_energy.join(sessions.select("session_id", "energy_wh"), on="session_id").filter(
        (pl.col("expected_wh") - pl.col("energy_wh")).abs() > 1)
    metadata = {
        "sessions": sessions.height, "intervals": table.height,
        "sessions_unusable": unusable,
        "sessions_metered": len(metered_ids), "sessions_interval_data": len(interval_ids),
        "sessions_estimated": estimated.height,
        "metered_sessions_differing_from_reported_energy": drift.height,
    }
    return BuildResult(table=table, metadata=metadata, mismatches=mismatches, checked=sessions.height)


def _latest(scan: pl.LazyFrame, key: str) -> pl.DataFrame:
    latest = scan.group_by(key).agg(pl.col("landing_date").max().alias("_latest"))
    return scan.join(latest, on=key).filter(pl.col("landing_date") == pl.col("_latest")).drop("_latest").collect()


def electricity_rates(warehouse: WarehouseResource) -> tuple[dict, pl.DataFrame, dict]:
    """Latest snapshot of every electricity rate as `ElectricityRate`s, the (rate_id, operator_id) table,
    and the rates that failed to parse (rate id -> reason)."""
    if not warehouse.has_data("electricity_rates"):
        return {}, pl.DataFrame(schema={"rate_id": pl.String, "operator_id": pl.String}), {}
    rates = _latest(warehouse.scan("electricity_rates"), "rate_id")
    periods = _latest(warehouse.scan("electricity_rate_periods"), "rate_id") if warehouse.has_data(
        "electricity_rate_periods") else pl.DataFrame(schema={"rate_id": pl.Int64})
    parsed, broken = {}, {}
    for rate in rates.iter_rows(named=True):
        rows = periods.filter(pl.col("rate_id") == rate["rate_id"]) if periods.height else periods
        items: dict[tuple, dict] = {}
        for p in rows.sort(["week_day", "date", "starts_at"], nulls_last=True).iter_rows(named=True) if rows.height else []:
            key = ("weekDay", p["week_day"]) if p["week_day"] is not None else ("date", p["date"].isoformat())
            items.setdefault(key, {key[0]: key[1], "periods": []})["periods"].append(
                {"startsAt": p["starts_at"], "endsAt": p["ends_at"], "price": str(p["price"])})
        try:
            parsed[str(rate["rate_id"])] = parse_electricity_rate(
                {"id": rate["rate_id"], "defaultPrice": None if rate["default_price"] is None else str(rate["default_price"]),
                 "taxPercentage": rate["tax_percentage"]}, list(items.values()))
        except RateError as exc:
            broken[str(rate["rate_id"])] = str(exc)
    owners = rates.select(pl.col("rate_id").cast(pl.String), "operator_id")
    return parsed, owners, broken


def electricity_cost(warehouse: WarehouseResource, day: dt.date,
                     sessions_per_batch: int = LIGHT_SESSIONS_PER_BATCH) -> BuildResult:
    """Price the day's clock-aligned intervals at the operator's (single) electricity rate, batch by batch of
    sessions (only the priced intervals, the result, are held for the whole day)."""
    rates, owners, broken = electricity_rates(warehouse)
    per_operator = owners.group_by("operator_id").agg(pl.col("rate_id").sort().alias("rates"))
    intervals_in = energy_in = 0
    with SpilledParts(warehouse, f"electricity_cost-{day}") as tables:
        for batch in session_batches(warehouse, day, sessions_per_batch):
            intervals = read_batch(warehouse, CLOCK_ALIGNED.name, batch, **{PARTITION: day})
            sessions = inputs.load_sessions(warehouse, day, batch, columns=["operator_id", "currency"]).select(
                "session_id", "operator_id", "currency")
            tables.append(_priced_intervals(intervals, sessions, per_operator, rates, broken))
            intervals_in += intervals.height
            energy_in += int(intervals["energy_wh"].sum() or 0)
        table = tables.read(ELECTRICITY_COST.empty_frame())
    metadata = {
        "intervals_in": intervals_in,
        "energy_wh_in": energy_in,
        "intervals_priced": int(table["electricity_cost"].is_not_null().sum()),
        "intervals_unpriced": int(table["electricity_cost"].is_null().sum()),
        "rates_invalid": len(broken),
    }
    for currency, amount in table.group_by("currency").agg(pl.col("electricity_cost").sum()).sort("currency").iter_rows():
        metadata[f"electricity_cost_{currency or 'unknown'}"] = float(amount or Decimal(0))
    return BuildResult(table=table, metadata=metadata)


def _priced_intervals(intervals: pl.DataFrame, sessions: pl.DataFrame, per_operator: pl.DataFrame, rates: dict,
                      broken: dict) -> pl.DataFrame:
    """Some clock-aligned intervals priced at their session operator's rate (or with the reason they are not)."""
    chosen = sessions.join(per_operator, on="operator_id", how="left").with_columns(
        pl.when(pl.col("rates").list.len() == 1).then(pl.col("rates").list.first()).alias("rate_id"),
        pl.when(pl.col("rates").is_null() | (pl.col("rates").list.len() == 0)).then(pl.lit("NO_RATE_FOR_OPERATOR"))
        .when(pl.col("rates").list.len() > 1).then(pl.lit("AMBIGUOUS_RATE")).alias("unpriced_reason"),
    )
    chosen = chosen.with_columns(
        pl.when(pl.col("rate_id").is_in(list(broken))).then(pl.lit("RATE_INVALID"))
        .otherwise(pl.col("unpriced_reason")).alias("unpriced_reason"))
    joined = intervals.join(chosen.select("session_id", "rate_id", "currency", "unpriced_reason"),
                            on="session_id", how="left")
    priced = price_intervals(joined, rates)
    return priced.with_columns(
        pl.when(pl.col("electricity_cost").is_null() & pl.col("unpriced_reason").is_null())
        .then(pl.lit("NO_RATE_FOR_OPERATOR")).otherwise(pl.col("unpriced_reason")).alias("unpriced_reason"),
    ).select(list(ELECTRICITY_COST.schema)).sort(["session_id", "interval_start_utc"])


def session_electricity_cost(warehouse: WarehouseResource, day: dt.date) -> pl.DataFrame:
    """Per-session totals of the day's interval costs."""
    costs = warehouse.read(ELECTRICITY_COST.name, **{PARTITION: day})
    # The library's rule: the sum of rounded interval costs, null when any interval has no price.
    totals = library_session_cost(costs.select("session_id", "energy_wh", "electricity_cost"))
    labels = costs.group_by("session_id").agg(pl.col("rate_id").drop_nulls().first(),
                                              pl.col("currency").drop_nulls().first())
    return (totals.join(labels, on="session_id", how="left")
            .with_columns(pl.col("unpriced_intervals").cast(pl.Int64), pl.lit(day).alias(PARTITION))
            .sort("session_id"))
