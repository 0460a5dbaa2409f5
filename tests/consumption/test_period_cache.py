"""`charging_periods` cuts again only the sessions whose row or meter curve changed since the date's last run
(`assets.consumption.period_cache`), and what it writes and reports is that of a full rebuild."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl

from assets.consumption import saved_state
from assets.consumption.assets import charging_periods, meter_curves
from assets.ingest.ocpp.tables import METER_READINGS
from assets.pricing.tables import TARIFFS
from assets.sessions.tables import SESSIONS

from .test_assets import DAY, _full, _reading, seeded  # noqa: F401  (the fixture)

LATER = dt.date(2026, 10, 26)
METERED = "ocpp:CP-1:1"
INTERVAL = "interval:acme:c-1"


def _run(wh) -> tuple[dict, bytes, dict]:
    """Materialize `meter_curves` and `charging_periods` for DAY: (the periods' metadata, the partition's bytes,
    the conservation check's metadata)."""
    result = dg.materialize([meter_curves, charging_periods], partition_key=DAY.isoformat(), resources={"warehouse": wh})
    assert result.success
    (materialization,) = result.asset_materializations_for_node("charging_periods")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    (check,) = [c for c in result.get_asset_check_evaluations()
                if c.asset_key == dg.AssetKey("charging_periods") and c.check_name == "energy_conservation"]
    periods = (Path(wh.root) / "charging_periods" / f"session_settlement_date={DAY}" / "part-0.parquet").read_bytes()
    return metadata, periods, {k: v.value for k, v in check.metadata.items()}


def _figures(metadata: dict) -> dict:
    return {k: v for k, v in metadata.items() if k not in ("sessions_reused", "reuse")}


def _same_as_full_rebuild(wh, monkeypatch, cached) -> None:
    with monkeypatch.context() as patch:
        patch.setenv(saved_state.CACHE_ENV, "off")
        full = _run(wh)
    assert full[0]["sessions_reused"] == 0
    assert _figures(cached[0]) == _figures(full[0]) and cached[1:] == full[1:]


def test_a_rerun_reuses_every_session_and_writes_the_same_bytes(seeded):  # noqa: F811
    first = _run(seeded)
    assert first[0]["sessions_reused"] == 0 and first[0]["reuse"] == "no saved state for this date"
    assert (first[0]["sessions_metered"], first[0]["sessions_cdr_periods"], first[0]["sessions_totals_only"]) == (1, 1, 1)
    again = _run(seeded)
    assert again[0]["sessions_reused"] == 3 and again[0]["reuse"] == "reused the saved periods of unchanged sessions"
    assert _figures(again[0]) == _figures(first[0]) and again[1:] == first[1:]


def test_a_changed_session_row_is_cut_again(seeded, monkeypatch):  # noqa: F811
    before = _run(seeded)
    sessions = seeded.read(SESSIONS, settlement_date=DAY)
    longer = sessions.with_columns(pl.when(pl.col("session_id") == INTERVAL).then(pl.lit(4000.0))
                                   .otherwise(pl.col("energy_wh")).alias("energy_wh"))
    seeded.write_partition(SESSIONS, longer.drop("settlement_date"), settlement_date=DAY)
    after = _run(seeded)
    assert after[0]["sessions_reused"] == 2 and after[1] != before[1]
    _same_as_full_rebuild(seeded, monkeypatch, after)


def test_a_changed_meter_curve_is_cut_again(seeded, monkeypatch):  # noqa: F811
    _run(seeded)
    late = [{**_reading(240, 103500), "landing_date": LATER, "record_ref": "late.jsonl:1#mv0.sv0"}]
    seeded.write_partition(METER_READINGS, _full(METER_READINGS, late).drop("landing_date"), landing_date=LATER)
    after = _run(seeded)
    assert after[0]["sessions_reused"] == 2
    _same_as_full_rebuild(seeded, monkeypatch, after)


def test_another_tariff_book_or_partition_cuts_every_session(seeded, monkeypatch):  # noqa: F811
    first = _run(seeded)
    seeded.write_partition(TARIFFS, pl.DataFrame([{"tariff_id": "T-NEW", "source": "ocpi", "tariff_json": "{}"}],
                                                 schema=TARIFFS.schema))
    changed = _run(seeded)
    assert changed[0]["sessions_reused"] == 0 and changed[0]["reuse"] == "the tariff book changed"
    assert changed[1:] == first[1:]
    periods = seeded.read("charging_periods", session_settlement_date=DAY)
    seeded.write_partition("charging_periods", periods.drop("session_settlement_date"), session_settlement_date=DAY)
    rewritten = _run(seeded)
    assert rewritten[0]["reuse"] == "the charging_periods partition is not the one the saved state describes"
    assert rewritten[0]["sessions_reused"] == 0 and rewritten[1:] == first[1:]
