"""Platform API → landing zone → validated tables, through the real client and the loopback stand-in."""

from __future__ import annotations

import json
from decimal import Decimal

import dagster as dg
import polars as pl
import pytest

from assets.ingest.platform.fetch import (platform_cdr_pages, platform_electricity_rate_pages, platform_session_pages,
                                          platform_tariff_pages)
from assets.ingest.platform.ingest import (consumption_stats, electricity_rates, platform_cdrs, platform_sessions,
                                           platform_tariffs)
from assets.ingest.common.watermarks import WatermarkRegister
from resources.platform_api import ApiError, PlatformApiResource
from tests.apis.conftest import LANDING_DAY, PLATFORM_TOKEN, checks_of, metadata_of, run_assets, utc
from tests.standins import platform_data
from tests.standins.base import Response


def _resources(api, warehouse, landing):
    return {"platform_api": api, "warehouse": warehouse, "landing": landing}


def test_cdrs_across_pages_field_by_field(platform_server, platform_api, reference_warehouse, tmp_landing):
    # 230 eMSP CDRs (3 pages of 100), 40 CPO CDRs, one 2.1.1 with snake_case periods, a credit and an OICP CDR
    platform_server.cdrs += [platform_data.make_cdr(i, is_local=False) for i in range(230)]
    platform_server.cdrs += [platform_data.make_cdr(i, is_local=True) for i in range(1000, 1040)]
    platform_server.cdrs.append(platform_data.make_cdr(2000, version="2.1.1", is_local=False, snake_case_periods=True))
    platform_server.cdrs.append(platform_data.make_cdr(2001, is_local=False, credit=True))
    platform_server.cdrs.append(platform_data.make_oicp_cdr(1))

    result = run_assets([platform_cdr_pages, platform_cdrs], _resources(platform_api, reference_warehouse, tmp_landing))

    pages = sorted(p.name for p in tmp_landing.day_dir("platform/cdrs", LANDING_DAY).iterdir())
    assert len(pages) == 3 + 1  # 233 received → 3 pages of ≤100; 40 sent → 1 page
    listing_requests = platform_server.requests_to("/cdrs/v2.0")
    assert all(r.query_value("per_page") == "100" for r in listing_requests)
    assert listing_requests[0].has_query("cursor") and listing_requests[0].query_value("cursor") == ""

    meta = metadata_of(result, "platform_cdrs")
    assert (meta["rows_in"], meta["rows_accepted"], meta["rows_quarantined"], meta["credit_cdrs"]) == (273, 273, 0, 1)
    assert all(checks_of(result).values())

    table = reference_warehouse.read("platform_cdrs")
    assert table.height == 273
    row = table.filter(pl.col("cdr_id") == 300007).row(0, named=True)
    assert row["session_id"] == "cpms:cdr:300007" and row["source"] == "cpms_cdr"
    assert row["protocol"] == "OCPI" and row["protocol_version"] == "2.2" and row["is_local"] is False
    assert row["start_utc"] == utc("2026-11-20T08:49:00Z") and row["end_utc"] == utc("2026-11-20T10:14:00Z")
    assert row["time_zone"] == "Europe/Berlin" and str(row["settlement_date"]) == "2026-11-20"
    assert row["location_id"] == "LOC-102" and row["evse_uid"] == "2007" and row["connector_id"] == "1"
    assert row["energy_wh"] == 20500.0  # 10 + 7 × 1.5 kWh
    assert row["total_time_s"] == 5100 and row["parking_time_s"] == 900
    assert row["currency"] == "EUR" and row["tariff_ids"] == ["EUR-AC-STD"]
    assert row["reported_cost_excl_vat"] == Decimal("10.0000")  # 0.5 + 8.00 + 1.5
    assert row["reported_energy_cost"] == Decimal("8.0000") and row["reported_parking_cost"] == Decimal("1.5000")
    assert row["auth_id"] == "012300007" and row["contract_id"] == "NL-TNM-C00000007-X"
    assert row["auth_method"] == "WHITELIST" and row["is_credit"] is False
    assert json.loads(row["raw_payload"])["id"] == 300007

    old = table.filter(pl.col("cdr_id") == 302000).row(0, named=True)
    assert old["protocol_version"] == "2.1.1" and old["location_id"] == "LOC-100" and old["evse_uid"] == "2002"
    assert json.loads(old["charging_periods_json"])[0]["tariff_id"] == "EUR-AC-STD"

    credit = table.filter(pl.col("cdr_id") == 302001).row(0, named=True)
    assert credit["is_credit"] is True
    assert credit["reported_cost_excl_vat"] == Decimal("-12.9200") and credit["reported_energy_cost"] == Decimal("-10.9200")  # 28 kWh × 0.39

    oicp = table.filter(pl.col("cdr_id") == 500001).row(0, named=True)
    assert oicp["protocol"] == "Hubject" and oicp["protocol_version"] == "OICP 2.3"
    assert oicp["energy_wh"] == 7125.0 and oicp["currency"] is None and oicp["reported_cost_excl_vat"] is None
    assert oicp["contract_id"] == "DE-HUB-C00000001-1" and oicp["time_zone"] == "Europe/Berlin"
    assert oicp["parking_time_s"] == 300


def test_watermarks_advance_and_redelivery_changes_nothing(platform_server, platform_api, reference_warehouse, tmp_landing):
    platform_server.cdrs += [platform_data.make_cdr(i, is_local=False) for i in range(5)]
    resources = _resources(platform_api, reference_warehouse, tmp_landing)
    run_assets([platform_cdr_pages, platform_cdrs], resources)
    register = WatermarkRegister(reference_warehouse.registers_dir)
    first_mark = register.get("platform", "cdrs_received")
    assert first_mark == "2026-11-20T10:03:00.000000Z"  # receivedAt of CDR 4: start 08:28, end 09:53, +10 min
    before = reference_warehouse.read("platform_cdrs").sort("cdr_id")

    # a second fetch sends the watermark; the boundary CDR comes again (inclusive filter) and collapses
    platform_server.cdrs.append(platform_data.make_cdr(5, is_local=False))
    result = run_assets([platform_cdr_pages, platform_cdrs], resources)
    second = [r for r in platform_server.requests_to("/cdrs/v2.0") if r.query_value("filter[isLocal]") == "false"][-1]
    assert second.query_value("filter[receivedAfter]") == first_mark
    meta = metadata_of(result, "platform_cdrs")
    # the boundary record arrives again: counted in `rows in`, quarantined as DUPLICATE_RECORD
    assert (meta["rows_in"], meta["rows_accepted"], meta["rows_redelivered"]) == (7, 6, 1)
    assert register.get("platform", "cdrs_received") == "2026-11-20T10:10:00.000000Z"

    # re-running the parse alone over the same landed pages gives the same table
    after = reference_warehouse.read("platform_cdrs").sort("cdr_id")
    run_assets([platform_cdrs], resources)
    again = reference_warehouse.read("platform_cdrs").sort("cdr_id")
    assert after.equals(again)
    assert before.drop("record_ref").equals(after.filter(pl.col("cdr_id") < 300005).drop("record_ref"))


def test_sessions_stats_tariffs_and_rates(platform_server, platform_api, reference_warehouse, tmp_landing):
    platform_server.load_sample(cdrs=0, sessions=3)
    running = platform_data.make_session(3, billing_completed=False)
    running.update(status="active", stoppedAt=None)
    platform_server.sessions.append(running)
    assets = [platform_session_pages, platform_tariff_pages, platform_electricity_rate_pages,
              platform_sessions, consumption_stats, platform_tariffs, electricity_rates]
    result = run_assets(assets, _resources(platform_api, reference_warehouse, tmp_landing))
    assert all(checks_of(result).values())

    sessions = reference_warehouse.read("platform_sessions").sort("session_id")
    assert sessions["session_id"].to_list() == ["cpms:4800000", "cpms:4800001", "cpms:4800002", "cpms:4800003"]
    row = sessions.row(0, named=True)
    assert row["source"] == "cpms_session" and row["operator_id"] == "1" and row["evse_uid"] == "2291"
    assert row["start_utc"] == utc("2026-11-20T08:00:00Z") and row["end_utc"] == utc("2026-11-20T09:33:00Z")
    assert row["time_zone"] == "Europe/Berlin" and str(row["settlement_date"]) == "2026-11-20"
    assert row["energy_wh"] == 22400.0 and row["total_time_s"] == 5580 and row["parking_time_s"] == 1080
    assert row["reported_cost_incl_vat"] == Decimal("13.1800") and row["reported_cost_excl_vat"] == Decimal("10.9800")
    assert row["currency"] == "EUR" and row["tax_percentage"] == Decimal("20.0000")
    assert row["tariff_snapshot_id"] == 88213 and row["tariff_ids"] == ["88213"]
    assert row["auth_id"] == "04A2B3C4D5E680" and row["billing_status"] == "completed"
    assert row["electricity_cost"] == Decimal("4.9300") and row["power_peak_w"] == 22000.0
    active = sessions.row(3, named=True)
    assert active["status"] == "active" and active["end_utc"] is None and active["settlement_date"] is None

    periods = reference_warehouse.read("platform_charging_periods").filter(pl.col("session_id") == "cpms:4800000")
    assert periods.sort("started_at")["charging_state"].to_list() == ["charging", "idle"]
    assert periods.sort("started_at")["total_incl_vat"].to_list() == [Decimal("12.5800"), Decimal("0.6000")]
    lines = reference_warehouse.read("platform_price_lines").filter(pl.col("session_id") == "cpms:4800000")
    session_lines = lines.filter(pl.col("scope") == "session").sort("line_no")
    assert session_lines["type"].to_list() == ["connection", "energy", "charging_time", "idle_time"]
    assert session_lines["price_incl_vat"].sum() == Decimal("13.1800")
    energy = session_lines.row(1, named=True)
    assert energy["unit"] == "kwh" and energy["quantity"] == Decimal("22.4") and energy["unit_price_excl_vat"] == Decimal("0.375")
    assert lines.filter(pl.col("scope") == "period").height == 4

    stats = reference_warehouse.read("consumption_stats")
    assert stats.height == 3 * 6  # finished sessions only, 6 points each
    last = stats.filter(pl.col("session_id") == "cpms:4800001").sort("timestamp").row(-1, named=True)
    assert last["energy_wh"] == 22500.0 and last["timestamp"] == utc("2026-11-20T08:38:00Z")

    tariffs = reference_warehouse.read("platform_tariffs").sort(["kind", "tariff_id"])
    assert tariffs.select("kind", "tariff_id", "snapshot_id").rows() == [("snapshot", 102, 88213), ("tariff", 101, None),
                                                                          ("tariff", 102, None)]
    assert json.loads(tariffs.row(2, named=True)["pricing_json"])["pricePerKwh"] == 0.45

    rates = reference_warehouse.read("electricity_rates").sort("rate_id")
    assert rates.select("rate_id", "default_price").rows() == [(11, Decimal("0.310000")), (12, Decimal("0.287650"))]
    rate_periods = reference_warehouse.read("electricity_rate_periods").sort(["rate_id", "week_day", "starts_at"], nulls_last=True)
    assert rate_periods.select("week_day", "starts_at", "ends_at", "price").rows() == [
        ("any", "00:00", "07:00", Decimal("0.210000")), ("any", "22:00", "00:00", Decimal("0.230000")),
        (None, "00:00", "00:00", Decimal("0.120000"))]
    meta = metadata_of(result, "electricity_rates")
    assert (meta["rows_in"], meta["rows_accepted"], meta["price_period_groups_accepted"]) == (4, 4, 2)  # 2 rates + 2 groups


def test_failed_fetch_keeps_the_watermark_and_a_rerun_recovers(platform_server, reference_warehouse, tmp_landing):

    platform_server.cdrs += [platform_data.make_cdr(i, is_local=False) for i in range(150)]
    flaky = PlatformApiResource(base_url=platform_server.url, api_token=PLATFORM_TOKEN, max_retries=1, backoff_seconds=0.0)
    # page 1 succeeds, then page 2 fails twice: the client gives up mid-listing
    original = platform_server.handle
    calls = {"n": 0}

    def failing_second_page(request):
        if "/cdrs/v2.0" in request.path and request.query_value("cursor"):
            calls["n"] += 1
            if calls["n"] <= 2:
                return Response(503, {"message": "Service Unavailable"})
        return original(request)

    platform_server.handle = failing_second_page
    resources = _resources(flaky, reference_warehouse, tmp_landing)
    # invoked directly: one attempt, without the asset's RetryPolicy (which would wait 30 s and more)
    with pytest.raises(ApiError, match="gave up after 2 attempts: server error 503"):
        platform_cdr_pages(dg.build_asset_context(partition_key=LANDING_DAY, resources=resources))
    register = WatermarkRegister(reference_warehouse.registers_dir)
    assert register.get("platform", "cdrs_received") is None  # nothing advanced
    assert len(list(tmp_landing.day_dir("platform/cdrs", LANDING_DAY).iterdir())) == 1  # page 1 stays landed

    result = run_assets([platform_cdr_pages, platform_cdrs], resources)  # the retry (page 2 now answers)
    meta = metadata_of(result, "platform_cdrs")
    assert (meta["rows_in"], meta["rows_accepted"], meta["rows_redelivered"]) == (250, 150, 100)
    assert register.get("platform", "cdrs_received") is not None
