"""Bad platform pages and records: each is quarantined with its reason code, and in = accepted + quarantined."""

from __future__ import annotations

import json

import polars as pl

from assets.ingest.platform.ingest import platform_cdrs, platform_sessions
from assets.reference.tables import LOCATIONS
from tests.apis.conftest import LANDING_DAY, checks_of, metadata_of, run_assets
from tests.standins import platform_data


def _land(landing, resource: str, name: str, body) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    landing.write_file(f"platform/{resource}/{LANDING_DAY}/{name}", raw)


def test_bad_cdrs_are_quarantined_with_reasons(reference_warehouse, tmp_landing):
    good = platform_data.make_cdr(1)
    negative = platform_data.make_cdr(2)
    negative["ocpiData"]["totalEnergy"] = -1.0
    reversed_times = platform_data.make_cdr(3)
    reversed_times["endTime"] = "2026-11-20T07:00:00Z"
    bad_currency = platform_data.make_cdr(4)
    bad_currency["ocpiData"]["currency"] = "euro"
    too_precise = platform_data.make_cdr(5)
    too_precise["ocpiData"]["totalCost"] = 10.12345
    no_zone = platform_data.make_cdr(6)
    no_zone["ocpiData"]["cdrLocation"].update(id="LOC-UNKNOWN", country="USA")
    no_zone["operatorId"] = 99
    old_version = platform_data.make_cdr(7)
    old_version["ocpiData"]["version"] = "2.0"
    clean = platform_data.make_cdr(8)
    conflicting = json.loads(json.dumps(good))
    conflicting["ocpiData"]["totalCost"] = 99.0  # same id and lastUpdatedAt as `good`, other content
    _land(tmp_landing, "cdrs", "aaaa0001_cdrs_received-page-0001.json",
          {"data": [good, negative, reversed_times, bad_currency, too_precise, no_zone, old_version, "not a cdr", clean],
           "links": {"next": None}})
    _land(tmp_landing, "cdrs", "aaaa0001_cdrs_received-page-0002.json", b'{"data": [truncated')
    _land(tmp_landing, "cdrs", "bbbb0002_cdrs_received-page-0001.json", {"data": [good, conflicting], "links": {}})
    _land(tmp_landing, "cdrs", "bbbb0002_cdrs_sent-page-0001.json", {"unexpected": True})

    result = run_assets([platform_cdrs], {"warehouse": reference_warehouse, "landing": tmp_landing})
    meta = metadata_of(result, "platform_cdrs")
    # 9 records + 1 malformed page + 1 non-page in the first run's files; the second run re-delivers `good`
    # once and brings a conflicting copy (same id and lastUpdatedAt): no copy of `good` can be trusted, all
    # three are CONFLICTING_VERSION
    assert (meta["rows_in"], meta["rows_accepted"], meta["rows_quarantined"], meta["rows_redelivered"]) == (13, 1, 12, 0)
    assert checks_of(result)[("platform_cdrs", "conservation")] is True
    quarantine = reference_warehouse.read("quarantine", source_asset="platform_cdrs", partition_key=LANDING_DAY)
    reasons = sorted(quarantine["reason_code"].to_list())
    assert reasons == sorted(["NEGATIVE_ENERGY", "END_BEFORE_START", "INVALID_CURRENCY", "PRECISION_LOSS",
                              "NO_TIME_ZONE", "UNSUPPORTED_PROTOCOL", "NOT_AN_OBJECT", "MALFORMED_JSON",
                              "NOT_A_PAGE"] + ["CONFLICTING_VERSION"] * 3)
    malformed = quarantine.filter(pl.col("reason_code") == "MALFORMED_JSON").row(0, named=True)
    assert malformed["raw_payload"] == '{"data": [truncated' and malformed["record_ref"].endswith("page-0002.json")
    conflicts = quarantine.filter(pl.col("reason_code") == "CONFLICTING_VERSION")
    assert sorted(json.loads(p)["ocpiData"]["totalCost"] for p in conflicts["raw_payload"]) == sorted(
        [good["ocpiData"]["totalCost"]] * 2 + [99.0])  # both payloads kept
    assert reference_warehouse.read("platform_cdrs")["cdr_id"].to_list() == [300008]

    # re-running the partition replaces, never appends
    run_assets([platform_cdrs], {"warehouse": reference_warehouse, "landing": tmp_landing})
    assert reference_warehouse.read("quarantine", source_asset="platform_cdrs").height == 12


def test_session_without_operator_zone_is_quarantined(tmp_warehouse, tmp_landing):
    session = platform_data.make_session(0)
    _land(tmp_landing, "sessions", "cccc0003_sessions-page-0001.json", {"data": [session], "links": {}})
    result = run_assets([platform_sessions], {"warehouse": tmp_warehouse, "landing": tmp_landing})
    meta = metadata_of(result, "platform_sessions")
    assert (meta["rows_in"], meta["rows_accepted"], meta["rows_quarantined"]) == (1, 0, 1)
    row = tmp_warehouse.read("quarantine", source_asset="platform_sessions").row(0, named=True)
    assert row["reason_code"] == "NO_TIME_ZONE" and json.loads(row["raw_payload"])["id"] == "4800000"
    assert tmp_warehouse.read("platform_charging_periods").height == 0  # no orphan child rows


def test_session_zone_from_its_evse_in_the_reference_locations(tmp_warehouse, tmp_landing):
    document = {"id": "NL-GRX-LOC-7", "time_zone": "Europe/Amsterdam",
                "evses": [{"uid": "E1", "external_ids": {"platform": {"charge_point_id": 1203, "evse_id": 2291}}}]}
    tmp_warehouse.write_partition(LOCATIONS, pl.DataFrame(
        {"location_id": ["NL-GRX-LOC-7"], "operator_id": ["NL-GRX"], "country_code": ["NL"], "party_id": ["GRX"],
         "name": ["Gracht"], "city": ["Amsterdam"], "time_zone": ["Europe/Amsterdam"], "evse_count": [1],
         "raw_payload": [json.dumps(document)]}, schema=LOCATIONS.schema))
    session = platform_data.make_session(0)  # evseId 2291, operatorId 1 (unknown to the operators table)
    _land(tmp_landing, "sessions", "dddd0004_sessions-page-0001.json", {"data": [session], "links": {}})
    run_assets([platform_sessions], {"warehouse": tmp_warehouse, "landing": tmp_landing})
    row = tmp_warehouse.read("platform_sessions").row(0, named=True)
    assert (row["location_id"], row["operator_id"], row["time_zone"]) == ("NL-GRX-LOC-7", "NL-GRX", "Europe/Amsterdam")
    assert str(row["settlement_date"]) == "2026-11-20"
