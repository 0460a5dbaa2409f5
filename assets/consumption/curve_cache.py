"""What `meter_curves` can take over from its previous run of a settlement date, so a re-settlement rebuilds only
the sessions whose meter data changed.

A date is settled again each time late data for it lands (`sensors.late_data`): typically a few CDRs or platform
sessions more, while the meter data of the date's other sessions is what it was. A session's curve, its
quarantined readings and its counts depend only on its id and on the rows of `meter_readings`, `transactions`,
`consumption_stats` and the OCPP transaction-days index that name it (`assets.consumption.inputs`; the span
columns only decide whether it can be placed on a clock at all). After each run the asset saves, per session, its
span and its figures (counts and quarantined readings), with the version (size, modification time, inode) of
every file of those four tables as it was when the run began and of the `meter_curves` file it wrote. The next run
of the date reuses the stored curve of a session when all of this holds:

- the saved state describes the `meter_curves` file now in place (a run that failed after writing, or any other
  writer, makes it describe nothing) and was made by the same code (`saved_state.CODE_VERSION`);
- no input file the saved run saw has been rewritten or removed since (a landing day ingested again makes every
  session of the date rebuild);
- no input file added since names the session (their id columns are read, nothing else);
- the session is still in the date with the same span, and the dates whose readings have no OCPP frames (which
  the readers always read) are the same.

Every other session is rebuilt, so the partition's bytes, its quarantine rows and its figures are those of a
full rebuild (`tests/consumption/test_curve_cache.py`). The state is saved as `saved_state` keeps it. On an
object-store warehouse every session is rebuilt: an object's listing gives its size and a modification time in
whole seconds, too little to tell a rewrite from the version saved.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from assets.consumption import saved_state
from assets.consumption.tables import METER_CURVES
from assets.ingest.ocpp.transaction_days import orphan_reading_dates
from resources.warehouse import WarehouseResource

INPUT_ID_COLUMNS = {"meter_readings": "transaction_id", "transactions": "transaction_id",
                    "consumption_stats": "session_id", "ocpp_transaction_days": "transaction_id"}
"""The tables a session's curve is built from, each with the column that names the session."""

SPAN_COLUMNS = ["session_id", "start_utc", "end_utc", "time_zone"]
COUNT_COLUMNS = ["rows_in", "rows_accepted", "resets_bridged", "anchors_refused", "power_points", "current_points",
                 "charging_state_changes"]
REJECTION = pl.Struct({"source": pl.String(), "record_ref": pl.String(), "reason_code": pl.String(),
                       "raw_payload": pl.String()})
SESSION_FIGURES = {"session_id": pl.String(), **{name: pl.Int64() for name in COUNT_COLUMNS},
                   "rejections": pl.List(REJECTION)}
"""One row per session a run built: its counts and its quarantined readings, in the order they are reported."""


@dataclass
class Plan:
    """What a run of `meter_curves` for one date starts from: the input files' versions it will save, and the
    sessions it reuses (their figures; empty: rebuild every session) with why."""

    inputs: dict[str, dict[str, list[int]]]
    orphans: list[str]
    reused: pl.DataFrame = field(default_factory=lambda: empty_figures())
    why: str = ""


def empty_figures() -> pl.DataFrame:
    return pl.DataFrame(schema=SESSION_FIGURES)


def input_versions(warehouse: WarehouseResource) -> dict[str, dict[str, list[int]]]:
    """Every file of the input tables with its version (size, modified ns, inode)."""
    return {table: {path: list(version) for path, version in warehouse.tables.part_file_versions(table).items()}
            for table in INPUT_ID_COLUMNS}


def plan(warehouse: WarehouseResource, day: dt.date) -> Plan:
    """The sessions of ``day`` whose saved curve and figures still hold (see the module's rules)."""
    why = saved_state.unusable(warehouse)
    if why:
        return Plan(inputs={}, orphans=[], why=why)
    start = Plan(inputs=input_versions(warehouse), orphans=sorted(d.isoformat() for d in orphan_reading_dates(warehouse)))
    saved = saved_state.previous(warehouse, METER_CURVES, day, set(SESSION_FIGURES) | set(SPAN_COLUMNS))
    if isinstance(saved, str):
        start.why = saved
        return start
    state, figures = saved
    if not _orphans_only_added(state, start):
        start.why = "the meter_readings dates without OCPP frames changed"
    else:
        changed = [f"{table}/{path}" for table, files in state.get("inputs", {}).items()
                   for path, version in files.items() if start.inputs.get(table, {}).get(path) != version]
        if changed or set(state.get("inputs", {})) != set(INPUT_ID_COLUMNS):
            start.why = f"input file rewritten or removed: {changed[0] if changed else 'the tables read changed'}"
        else:
            dirty = _named_in_added_files(warehouse, state["inputs"], start.inputs)
            spans = warehouse.scan("sessions", settlement_date=day).select(SPAN_COLUMNS).collect()
            start.reused = (figures.join(spans, on=SPAN_COLUMNS, how="semi")
                            .filter(~pl.col("session_id").is_in(dirty.implode())).select(list(SESSION_FIGURES)))
            start.why = "reused the saved curves of unchanged sessions"
    return start


def _orphans_only_added(state: dict, start: Plan) -> bool:
    """Whether the dates of `meter_readings` read for every session (no OCPP frames, `orphan_reading_dates`) are
    those of the saved run, or more of them whose readings all came in files added since (whose sessions are
    rebuilt anyway). A date that has OCPP frames now, or an earlier file of a new such date, changes what the
    readers read for sessions that nothing else names."""
    saved = set(state.get("orphans", []))
    if not saved <= set(start.orphans):
        return False
    before = state.get("inputs", {}).get("meter_readings", {})
    return not any(path.startswith(f"landing_date={day}/") for day in set(start.orphans) - saved for path in before)


def _named_in_added_files(warehouse: WarehouseResource, before: dict[str, dict[str, list[int]]],
                          now: dict[str, dict[str, list[int]]]) -> pl.Series:
    """The session ids that input files added since the saved run name."""
    scans = [pl.scan_parquet(warehouse.tables.location(f"{table}/{path}")).select(pl.col(column).alias("session_id"))
             for table, column in INPUT_ID_COLUMNS.items()
             for path in now.get(table, {}) if path not in before.get(table, {})]
    if not scans:
        return pl.Series("session_id", [], dtype=pl.String())
    return pl.concat(scans).unique().collect().get_column("session_id").drop_nulls()


def save(warehouse: WarehouseResource, day: dt.date, started: Plan, figures: pl.DataFrame) -> None:
    """Save the state of the run that ``started`` began, once its ``meter_curves`` partition is written:
    ``figures`` of every session it holds (``SESSION_FIGURES``) with their spans."""
    if not started.inputs:
        return  # no state can be used here (`saved_state.unusable`)
    spans = warehouse.scan("sessions", settlement_date=day).select(SPAN_COLUMNS).collect()
    frame = figures.select(list(SESSION_FIGURES)).join(spans, on="session_id", how="left")
    saved_state.save(warehouse, METER_CURVES, day, {"inputs": started.inputs, "orphans": started.orphans}, frame)
