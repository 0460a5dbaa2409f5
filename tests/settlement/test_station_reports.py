"""The station report, hand-computed against seed 003's own example: three sessions on two stations give
exactly the example's group, total and average rows; a one-session difference is listed metric by metric."""

import datetime as dt
import json
from decimal import Decimal as D
from pathlib import Path

import polars as pl

from assets.settlement.station_report import build_report, compare_with_eevion, report_sessions
from assets.settlement.tables import MONEY

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "settlement" / "seed003_report_example.json"
SITE = "65a96694d7dd8ce4936e5ead"
START = dt.datetime(2024, 5, 2, 9, 0, tzinfo=dt.timezone.utc)
UTC = pl.Datetime("us", "UTC")


def _sessions(cost_2133: str = "8.38") -> pl.DataFrame:
    """The seed's sessions: station 2133 one (8.38, 29,600 Wh, 16,304 s), station 2134 two of one customer."""
    rows = [("e1", "2133", cost_2133, "4.11", 29600.0, 16304, "c1", None),
            ("e2", "2134", "8.42", "4.13", 29735.0, 16187, "c2", "iOS"),
            ("e3", "2134", "8.41", "4.13", 29735.0, 16187, "c2", "iOS")]
    sessions = pl.DataFrame(
        [{"session_id": s, "source": "eevion", "operator_id": "CA-MPL", "location_id": SITE, "evse_uid": station,
          "auth_method": method, "emsp_id": None, "customer_id": customer, "start_utc": START, "energy_wh": wh,
          "total_time_s": seconds, "currency": "CAD", "is_credit": False}
         for s, station, _, _, wh, seconds, customer, method in rows],
        schema_overrides={"start_utc": UTC})
    priced = pl.DataFrame([{"session_id": s, "currency": "CAD", "error_code": None, "total_cost_incl": D(cost)}
                           for s, _, cost, *_ in rows], schema_overrides={"total_cost_incl": MONEY, "error_code": pl.String})
    electricity = pl.DataFrame([{"session_id": s, "electricity_cost": D(e)} for s, _, _, e, *_ in rows],
                               schema_overrides={"electricity_cost": MONEY})
    locations = pl.DataFrame([{"location_id": SITE, "location": "[Test] Hypercharge Office Chargers", "region": "BC"}])
    power = pl.DataFrame([{"session_id": "e1", "maximum_power_watts": 7200.0},
                          {"session_id": "e2", "maximum_power_watts": 6900.0}])
    return report_sessions(sessions, priced, electricity, locations, power)


def _by_key(report: pl.DataFrame, group_by: str) -> dict[str, dict]:
    return {r["group_key"]: r for r in report.filter(pl.col("group_by") == group_by).iter_rows(named=True)}


def test_group_total_and_average_rows_equal_the_seed_example():
    stations = _by_key(build_report(_sessions()), "station")
    assert {k: stations["2133"][k] for k in ("count", "cancel_count", "total_cost_cents", "average_cost_cents",
                                             "total_energy_cost_cents", "total_energy_watt_hours",
                                             "total_duration_seconds", "average_duration_seconds",
                                             "maximum_power_watts", "unique_customers", "most_common_start_with")} == {
        "count": 1.0, "cancel_count": 0.0, "total_cost_cents": D("838"), "average_cost_cents": D("838"),
        "total_energy_cost_cents": D("411"), "total_energy_watt_hours": 29600.0, "total_duration_seconds": 16304.0,
        "average_duration_seconds": 16304.0, "maximum_power_watts": 7200.0, "unique_customers": 1,
        "most_common_start_with": "Unknown"}
    assert stations["2134"]["average_cost_cents"] == D("841.5") and stations["2134"]["total_cost_cents"] == D("1683")
    assert stations["2134"]["average_duration_seconds"] == 16187.0 and stations["2134"]["unique_customers"] == 1
    assert stations["2134"]["most_common_start_with"] == "iOS"
    assert stations["2134"]["maximum_power_watts"] == 6900.0  # e3 has no power figure; the max ignores it
    metrics = ("count", "cancel_count", "total_cost_cents", "total_duration_seconds", "total_energy_cost_cents",
               "total_energy_watt_hours")
    assert [stations["total"][m] for m in metrics] == [3.0, 0.0, D("2521"), 48678.0, D("1237"), 89070.0]
    assert [stations["average"][m] for m in metrics] == [1.5, 0.0, D("1260.5"), 24339.0, D("618.5"), 44535.0]
    assert stations["total"]["unique_customers"] is None  # Eevion's total row has only the summed metrics

    sites, regions = _by_key(build_report(_sessions()), "site"), _by_key(build_report(_sessions()), "region")
    assert sites[SITE]["count"] == 3.0 and sites[SITE]["unique_customers"] == 2
    assert sites["average"]["total_cost_cents"] == D("2521")  # one site: the average is the total
    assert regions["BC"]["most_common_start_with"] == "iOS"


def _eevion_rows() -> pl.DataFrame:
    seed = json.loads(FIXTURE.read_text())
    start = dt.datetime.fromtimestamp(seed["request"]["startTimestamp"] / 1000, dt.timezone.utc)
    end = dt.datetime.fromtimestamp(seed["request"]["endTimestamp"] / 1000, dt.timezone.utc)
    rows = []
    for row in seed["response"]:
        key = row["station_id"]
        rows.append({"period_start": start, "period_end": end, "group_by": "station", "group_key": key,
                     "row_kind": key if key in ("total", "average") else "group", "count": float(row["count"]),
                     "cancel_count": float(row["cancel_count"]), "unique_customers": row.get("unique_customers"),
                     "total_cost_cents": D(str(row["total_cost_cents"])),
                     "total_energy_cost_cents": D(str(row["total_energy_cost_cents"])),
                     "average_cost_cents": row.get("average_cost_cents"),
                     "total_energy_wh": float(row["total_energy_watt_hours"]),
                     "total_duration_s": float(row["total_duration_seconds"]),
                     "average_duration_s": row.get("average_duration_seconds")})
    return pl.DataFrame(rows, schema_overrides={"period_start": UTC, "period_end": UTC, "total_cost_cents": MONEY,
                                                "total_energy_cost_cents": MONEY, "average_cost_cents": pl.Float64,
                                                "average_duration_s": pl.Float64, "unique_customers": pl.Int64})


def test_comparison_with_eevion_lists_only_what_differs():
    assert compare_with_eevion(_eevion_rows(), _sessions()) == []
    differences = compare_with_eevion(_eevion_rows(), _sessions(cost_2133="8.40"))
    assert [(d["group_key"], d["metric"], d["eevion_value"], d["our_value"], d["difference"]) for d in differences] == [
        ("2133", "total_cost_cents", D("838.0000"), D("840.0000"), D("2.0000")),
        ("2133", "average_cost_cents", D("838.0000"), D("840.0000"), D("2.0000")),
        ("total", "total_cost_cents", D("2521.0000"), D("2523.0000"), D("2.0000")),
        ("average", "total_cost_cents", D("1260.5000"), D("1261.5000"), D("1.0000")),
    ]


def test_assets_write_day_and_month_reports_byte_identically(tmp_warehouse):
    import dagster as dg

    import assets.reference.tables as reference_tables
    from assets.settlement.assets import monthly_station_reports, station_reports
    from tests.settlement.builders import write_electricity, write_priced, write_sessions

    day = dt.date(2026, 10, 25)
    location = json.dumps({"id": "LOC-1", "state": "ON", "country_code": "CA"})
    tmp_warehouse.write_partition(reference_tables.LOCATIONS, pl.DataFrame(
        [{"location_id": "LOC-1", "operator_id": "CA-MPL", "country_code": "CA", "party_id": "MPL", "name": "Depot",
          "city": "Toronto", "time_zone": "America/Toronto", "evse_count": 2, "raw_payload": location}],
        schema=reference_tables.LOCATIONS.schema))
    write_sessions(tmp_warehouse, day, [
        {"session_id": "x1", "operator_id": "CA-MPL", "location_id": "LOC-1", "evse_uid": "E1", "currency": "CAD",
         "energy_wh": 12000.0, "customer_id": "c1", "auth_method": "AUTH_REQUEST"},
        {"session_id": "x2", "operator_id": "CA-MPL", "location_id": "LOC-1", "evse_uid": "E2", "currency": "CAD",
         "energy_wh": 0.0, "customer_id": "c2", "emsp_id": "NL-ABC"},
        {"session_id": "x3", "operator_id": "CA-MPL", "location_id": "LOC-1", "evse_uid": "E2", "currency": "CAD",
         "energy_wh": 3000.0, "is_credit": True}])
    write_priced(tmp_warehouse, day, [
        {"session_id": "x1", "operator_id": "CA-MPL", "currency": "CAD", "total_cost_excl": D("4.0044"),
         "total_cost_incl": D("4.5250")},
        {"session_id": "x2", "operator_id": "CA-MPL", "currency": "CAD", "error_code": "NO_PERIODS"},
        {"session_id": "x3", "operator_id": "CA-MPL", "currency": "CAD", "error_code": "CREDIT_CDR"}])
    write_electricity(tmp_warehouse, day, [{"session_id": "x1", "electricity_cost": D("1.6649"), "currency": "CAD"}])

    def run():
        assert dg.materialize([station_reports], partition_key=day.isoformat(), resources={"warehouse": tmp_warehouse}).success
        assert dg.materialize([monthly_station_reports], partition_key="2026-10-01",
                              resources={"warehouse": tmp_warehouse}).success
        return {f: f.read_bytes() for f in sorted(Path(tmp_warehouse.root).glob("station_report*/**/*.parquet"))}

    first = run()
    assert run() == first and len(first) == 3  # day, month, (empty) Eevion differences
    for period, start in (("day", day), ("month", dt.date(2026, 10, 1))):
        report = tmp_warehouse.read("station_reports", period=period, period_start=start)
        regions = _by_key(report, "region")
        # x3 is a credit CDR: not a session of the report; x2 has no energy and no price
        assert (regions["ON"]["count"], regions["ON"]["cancel_count"], regions["ON"]["unpriced_count"]) == (2.0, 1.0, 1.0)
        assert regions["ON"]["total_cost_cents"] == D("453")  # 4.5250 half-up
        assert regions["ON"]["total_energy_cost_cents"] == D("166")
        assert regions["ON"]["unique_customers"] == 2
        assert regions["ON"]["most_common_start_with"] == "Card"  # Card 1, Roaming 1: the tie goes alphabetically
        stations = _by_key(report, "station")
        assert stations["average"]["count"] == 1.0 and stations["average"]["total_cost_cents"] == D("226.5")
        assert _by_key(report, "site")["LOC-1"]["location"] == "Depot"
