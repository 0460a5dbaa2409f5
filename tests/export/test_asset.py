"""`interval_export` end to end on a small warehouse against the loopback Charge API: payloads, quarantine,
re-runs (byte-identical, nothing re-sent), the retry sensor, the catalog views and secrets."""

from __future__ import annotations

import datetime as dt
import json
import logging

import dagster as dg
import duckdb
import polars as pl
import pytest

import assets.consumption.tables as consumption_tables
import assets.reference.tables as reference_tables
import assets.sessions.tables as session_tables
from assets.export import defs as export_defs
from assets.export.assets import interval_export
from assets.export.log import ExportLog
from resources.tables import TableSpec
from sensors import defs as sensor_defs
from tests.export.conftest import CLIENT_SECRET, make_client
from tests.standins.base import Fault

DAY = dt.date(2026, 10, 25)
UTC = dt.timezone.utc


def t(hour: int, minute: int = 0, second: int = 0, day: int = 25) -> dt.datetime:
    return dt.datetime(2026, 10, day, hour, minute, second, tzinfo=UTC)


def frame(spec: TableSpec, rows: list[dict]) -> pl.DataFrame:
    """Rows with every column of the spec (absent ones null)."""
    return pl.DataFrame([{c: row.get(c) for c in spec.schema} for row in rows], schema=spec.schema)


def session(sid: str, ref: str | None, evse: str, start: dt.datetime, end: dt.datetime, wh: float,
            operator: str = "GB-HMC") -> dict:
    return {"session_id": sid, "source": "ocpp", "session_ref": ref, "operator_id": operator,
            "location_id": f"LOC-{evse}", "evse_uid": evse, "start_utc": start, "end_utc": end,
            "time_zone": "Europe/London", "settlement_date": DAY, "energy_wh": wh, "total_time_s": 0,
            "parking_time_s": 0, "is_credit": False, "tariff_ids": []}


def interval(sid: str, start: dt.datetime, wh: int, estimated: bool = False) -> dict:
    return {"session_settlement_date": DAY, "session_id": sid, "interval_start_utc": start, "energy_wh": wh,
            "interval_minutes": 30, "is_estimated": estimated, "method": "estimated_uniform" if estimated else "meter",
            "time_zone": "Europe/London", "settlement_date": DAY, "settlement_period": 1}


@pytest.fixture
def warehouse(tmp_warehouse):
    """Five sessions settling on 2026-10-25: A metered (partial first and last interval), B without intervals,
    C with estimated intervals, D on an EVSE without charge point, E from another operator."""
    sessions = [
        session("ocpp:CP-A:11", "11", "A-1", t(0, 50, 15), t(2, 5), 4321),
        session("ocpp:CP-B:12", "12", "B-1", t(1), t(3), 7400.4),
        session("ocpp:CP-C:13", "13", "C-1", t(2), t(3), 3000),
        session("ocpp:CP-D:14", "14", "D-1", t(4), t(5), 1000),
        session("ocpp:CP-V:15", "15", "V-1", t(4), t(5), 1000, operator="GB-VLT"),
    ]
    tmp_warehouse.write_partition(session_tables.SESSIONS, frame(session_tables.SESSIONS, sessions), settlement_date=DAY)
    evses = [{"location_id": f"LOC-{e}-1", "evse_uid": f"{e}-1", "charge_point_id": None if e == "D" else f"CP-HMC-{e}",
              "operator_id": "GB-HMC", "tariff_ids": []} for e in "ABCDV"]
    tmp_warehouse.write_partition(reference_tables.EVSES, frame(reference_tables.EVSES, evses))
    intervals = [interval("ocpp:CP-A:11", t(0, 30), 321), interval("ocpp:CP-A:11", t(1), 2000),
                 interval("ocpp:CP-A:11", t(1, 30), 1500), interval("ocpp:CP-A:11", t(2), 500),
                 interval("ocpp:CP-C:13", t(2), 1500, True), interval("ocpp:CP-C:13", t(2, 30), 1500, True)]
    tmp_warehouse.write_partition(consumption_tables.CLOCK_ALIGNED, frame(consumption_tables.CLOCK_ALIGNED, intervals),
                                  session_settlement_date=DAY)
    return tmp_warehouse


def run(warehouse, client, **config):
    result = dg.materialize([interval_export], partition_key=DAY.isoformat(),
                            resources={"warehouse": warehouse, "charge_api": client},
                            run_config={"ops": {"interval_export": {"config": config}}} if config else None)
    assert result.success
    metadata = {k: v.value for k, v in result.asset_materializations_for_node("interval_export")[0].metadata.items()}
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    return metadata, checks


def test_exports_home_charges_with_intervals_or_totals(server, warehouse):
    metadata, checks = run(warehouse, make_client(server))
    assert checks == {"conservation": True, "schema": True}
    assert {k: metadata[k] for k in ("home_sessions", "sent", "duplicate", "rejected", "pending",
                                     "charges_with_intervals", "charges_totals_only", "quarantined_before_sending")} == {
        "home_sessions": 4, "sent": 3, "duplicate": 0, "rejected": 0, "pending": 0,
        "charges_with_intervals": 1, "charges_totals_only": 2, "quarantined_before_sending": 1}
    assert metadata["totals_only_no_intervals"] == 1 and metadata["totals_only_estimated_intervals"] == 1
    assert server.received[("11", "CP-HMC-A")] == {
        "chargeExternalId": "11", "chargePointExternalId": "CP-HMC-A",
        "startDateTime": "2026-10-25T00:50:15Z", "endDateTime": "2026-10-25T02:05:00Z", "consumptionKwh": 4.321,
        "intervals": [
            {"startDateTime": "2026-10-25T00:50:15Z", "endDateTime": "2026-10-25T01:00:00Z", "consumptionKwh": 0.321},
            {"startDateTime": "2026-10-25T01:00:00Z", "endDateTime": "2026-10-25T01:30:00Z", "consumptionKwh": 2.0},
            {"startDateTime": "2026-10-25T01:30:00Z", "endDateTime": "2026-10-25T02:00:00Z", "consumptionKwh": 1.5},
            {"startDateTime": "2026-10-25T02:00:00Z", "endDateTime": "2026-10-25T02:05:00Z", "consumptionKwh": 0.5}]}
    # B: total rounded half-up to whole Wh; C: estimated intervals are not interval data -> total only
    assert server.received[("12", "CP-HMC-B")] == {"chargeExternalId": "12", "chargePointExternalId": "CP-HMC-B",
                                                   "startDateTime": "2026-10-25T01:00:00Z",
                                                   "endDateTime": "2026-10-25T03:00:00Z", "consumptionKwh": 7.4}
    assert "intervals" not in server.received[("13", "CP-HMC-C")]
    assert len(server.requests_to("charges.addWithIntervals")) == 1 and len(server.requests_to("charges.add")) == 2
    quarantine = warehouse.read("quarantine", source_asset="interval_export")
    assert quarantine.select("record_ref", "reason_code").rows() == [("ocpp:CP-D:14", "NO_CHARGE_POINT")]
    exports = warehouse.read("charge_exports", settlement_date=DAY)
    assert exports.select("charge_external_id", "status", "outcome").rows() == [
        ("11", "DELIVERED", "Success"), ("12", "DELIVERED", "Success"), ("13", "DELIVERED", "Success")]


def test_rerun_is_byte_identical_and_sends_nothing(server, warehouse):
    run(warehouse, make_client(server))
    files = sorted(warehouse.root_path.rglob("*.parquet"))
    before = {path: path.read_bytes() for path in files}
    requests = len(server.requests)
    metadata, checks = run(warehouse, make_client(server))
    assert (metadata["sent"], metadata["already_delivered"], metadata["requests"]) == (0, 3, 0)
    assert checks["conservation"] and len(server.requests) == requests
    assert {path: path.read_bytes() for path in sorted(warehouse.root_path.rglob("*.parquet"))} == before


def test_receiver_rejection_is_quarantined_with_its_message(server, warehouse):
    server.reject("12", "consumptionKwh above the charge point's capacity")
    metadata, checks = run(warehouse, make_client(server), batch_size=10)
    assert (metadata["sent"], metadata["rejected"], metadata["batch_rejections"]) == (2, 1, 1)
    assert checks["conservation"]
    rows = warehouse.read("quarantine", source_asset="interval_export").sort("record_ref")
    assert rows.select("record_ref", "reason_code").rows() == [
        ("CP-HMC-B/12", "CHARGE_API_REJECTED"), ("ocpp:CP-D:14", "NO_CHARGE_POINT")]
    assert "above the charge point's capacity" in rows["reason"][0]
    assert json.loads(rows["raw_payload"][0])["chargeExternalId"] == "12"
    # totals-only charges 12 and 13 shared a batch: 13 is delivered after the bisection
    assert ("13", "CP-HMC-C") in server.received and ("12", "CP-HMC-B") not in server.received


def test_retry_sensor_requests_pending_dates_and_the_run_delivers_them(server, warehouse):
    server.inject(Fault(status=503, body={"message": "maintenance"}, path_contains="charges"))
    metadata, checks = run(warehouse, make_client(server, max_retries=0))
    assert metadata["pending"] == 3 and metadata["sent"] == 0 and checks["conservation"]
    sensor = next(s for s in sensor_defs.sensors if s.name == "charge_export_retries")
    with dg.build_sensor_context(resources={"warehouse": warehouse}) as context:
        requests = sensor(context)
    assert [(r.partition_key, r.tags["chargeledger/pending"]) for r in requests] == [(DAY.isoformat(), "3")]
    metadata, _ = run(warehouse, make_client(server))
    assert (metadata["resent_pending"], metadata["sent"], metadata["pending"]) == (3, 3, 0)
    with dg.build_sensor_context(resources={"warehouse": warehouse}) as context:
        assert isinstance(sensor(context), dg.SkipReason)


def test_catalog_has_commented_export_views(server, warehouse):
    run(warehouse, make_client(server))
    con = duckdb.connect(str(warehouse.refresh_catalog()), read_only=True)
    try:
        assert con.execute("select status, count(*) from charge_exports group by 1").fetchall() == [("DELIVERED", 3)]
        assert con.execute("select count(*) from charge_export_attempts where result = 'Success'").fetchone() == (3,)
        comments = dict(con.execute("select view_name, comment from duckdb_views() where not internal").fetchall())
        assert "Charge API" in comments["charge_exports"] and "Charge API" in comments["charge_export_attempts"]
    finally:
        con.close()


def test_no_secret_in_logs_metadata_export_log_or_warehouse(server, warehouse, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    server.expire_tokens_after(1)  # two tokens get issued: both must stay out of everything we write
    server.inject(Fault(status=429, headers={"Retry-After": "0"}, path_contains="charges"))
    metadata, _ = run(warehouse, make_client(server), batch_size=1)
    assert metadata["sent"] == 3
    secrets = [CLIENT_SECRET, *server.tokens]
    assert len(secrets) >= 3
    captured = capsys.readouterr()
    with ExportLog(warehouse.registers_dir) as log:
        stored = log.all_text()
    files = b"".join(p.read_bytes() for p in warehouse.root_path.rglob("*") if p.is_file())
    haystacks = {"logs": caplog.text + captured.out + captured.err, "metadata": json.dumps(metadata, default=str),
                 "export log": stored}
    for name, text in haystacks.items():
        assert not [s for s in secrets if s in text], name
    assert not [s for s in secrets if s.encode() in files]


def test_a_reused_charge_key_is_quarantined_not_dropped_as_duplicate(server, warehouse):
    run(warehouse, make_client(server))
    # Next day: a session reusing transaction 11 on the same charge point (another CSMS reset its counter),
    # and two sessions sharing transaction 21 on charge point B.
    next_day = DAY + dt.timedelta(days=1)
    reused = [session("ocpp:CP-A:11#2", "11", "A-1", t(20, day=26), t(22, day=26), 2000),
              session("ocpp:CP-B:21", "21", "B-1", t(20, day=26), t(21, day=26), 1000),
              session("ocpp:CP-B:21#2", "21", "B-1", t(21, day=26), t(22, day=26), 1000)]
    for row in reused:
        row["settlement_date"] = next_day
    warehouse.write_partition(session_tables.SESSIONS, frame(session_tables.SESSIONS, reused), settlement_date=next_day)
    result = dg.materialize([interval_export], partition_key=next_day.isoformat(),
                            resources={"warehouse": warehouse, "charge_api": make_client(server)})
    metadata = {k: v.value for k, v in result.asset_materializations_for_node("interval_export")[0].metadata.items()}
    assert (metadata["sent"], metadata["duplicate"], metadata["delivered_total"]) == (1, 0, 1)
    assert all(c.passed for c in result.get_asset_check_evaluations())
    quarantine = warehouse.read("quarantine", source_asset="interval_export", partition_key=next_day.isoformat())
    assert sorted(quarantine.select("record_ref", "reason_code").rows()) == [
        ("ocpp:CP-A:11#2", "CHARGE_KEY_COLLISION"), ("ocpp:CP-B:21#2", "DUPLICATE_CHARGE_KEY")]
    assert "already sent for session ocpp:CP-A:11" in quarantine.filter(pl.col("reason_code") == "CHARGE_KEY_COLLISION")["reason"][0]
    assert server.received[("11", "CP-HMC-A")]["startDateTime"] == "2026-10-25T00:50:15Z"  # the first one stands
