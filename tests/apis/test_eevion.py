"""Eevion: client limiter and 429 handling, listing → eevion_sessions, reports, webhook receiver."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import httpx
import polars as pl
import pytest

from assets.ingest.eevion.assets import eevion_report_pages, eevion_reports, eevion_session_pages, eevion_sessions
from assets.ingest.common.watermarks import WatermarkRegister
from resources.eevion_api import EevionApiResource
from resources.eevion_webhook import EevionWebhookReceiver
from resources.platform_api import ApiError
from tests.apis.conftest import EEVION_KEY, LANDING_DAY, WEBHOOK_TOKEN, checks_of, metadata_of, run_assets, utc
from tests.standins.base import Fault
from tests.standins.eevion import EevionStandin, make_session


def _resources(api, warehouse, landing):
    return {"eevion_api": api, "warehouse": warehouse, "landing": landing}


def test_wrong_api_key_is_refused(eevion_server):
    client = EevionApiResource(base_url=f"{eevion_server.url}/api/eevion", api_key="not-the-key")
    with pytest.raises(ApiError) as failure:
        client.fetch_session_pages(lambda n, raw: None)
    assert failure.value.status == 401 and failure.value.message == "Invalid API key"


def test_client_limiter_keeps_under_the_quota():
    # the server enforces 3 requests per 0.6 s; the client limiter is set to the same quota
    with EevionStandin(EEVION_KEY, rate_limit=3, rate_window_seconds=0.6).load_sample(14) as server:
        client = EevionApiResource(base_url=f"{server.url}/api/eevion", api_key=EEVION_KEY, page_limit=2,
                                   requests_per_window=3, window_seconds=0.6)
        pages: list[bytes] = []
        assert client.fetch_session_pages(lambda n, raw: pages.append(raw)) == 8  # 14 sessions / 2 + final empty
        stamps = [r.received_at for r in server.requests]
    assert len(stamps) == 8  # no 429 was provoked, so no request was repeated
    assert all(stamps[i + 3] - stamps[i] >= 0.55 for i in range(len(stamps) - 3))
    assert sum(len(json.loads(p)) for p in pages) == 14


def test_server_429_is_waited_out(eevion_server):
    eevion_server.load_sample(5)
    eevion_server.inject(Fault(status=429, body={"result": "error", "error": "rateLimited", "message": "Too many"},
                               headers={"Retry-After": "1"}, path_contains="/session"))
    client = EevionApiResource(base_url=f"{eevion_server.url}/api/eevion", api_key=EEVION_KEY, page_limit=2,
                               backoff_seconds=0.01)
    waits: list[float] = []
    assert client.fetch_session_pages(lambda n, raw: None, sleep=waits.append) == 3
    assert waits == [1.0]  # exactly the Retry-After, not the (shorter) exponential backoff
    assert len(eevion_server.requests_to("/session")) == 4


def test_exhausted_window_pauses_until_reset():
    # X-RateLimit-Remaining reaches 0 after two calls: the client waits for the reset instead of meeting a 429
    with EevionStandin(EEVION_KEY, rate_limit=2, rate_window_seconds=1.0).load_sample(5) as server:
        client = EevionApiResource(base_url=f"{server.url}/api/eevion", api_key=EEVION_KEY, page_limit=2,
                                   requests_per_window=100, backoff_seconds=0.01)
        started = time.monotonic()
        assert client.fetch_session_pages(lambda n, raw: None) == 3
        elapsed = time.monotonic() - started
    assert len(server.requests_to("/session")) == 3 and elapsed >= 0.9


def test_sessions_listing_and_webhooks_to_table(eevion_server, eevion_api, tmp_warehouse, tmp_landing):
    eevion_server.load_sample(12)  # sessions 4 and 9 are still charging
    receiver = EevionWebhookReceiver(tmp_landing, WEBHOOK_TOKEN, clock=lambda: utc(f"{LANDING_DAY}T12:00:00Z")).start()
    try:
        # a webhook re-delivers session 0 (same version) and brings a session the listing does not have
        extra = make_session(40)
        eevion_server.sessions.append(extra)
        assert eevion_server.fire_session_complete(receiver.webhook_url(), eevion_server.sessions[0]["sessionId"]).status_code == 200
        eevion_server.sessions.remove(extra)
        assert httpx.post(receiver.webhook_url(), json=extra).status_code == 200
        assert httpx.post(receiver.webhook_url(), json=extra).status_code == 200  # re-sent: same file
    finally:
        receiver.stop()
    assert len(list(tmp_landing.day_dir("eevion/webhooks", LANDING_DAY).iterdir())) == 2

    result = run_assets([eevion_session_pages, eevion_sessions], _resources(eevion_api, tmp_warehouse, tmp_landing))
    meta = metadata_of(result, "eevion_sessions")
    # the session delivered by listing and by webhook counts in `rows in` twice; the second copy is DUPLICATE_RECORD
    assert (meta["rows_in"], meta["rows_accepted"], meta["rows_quarantined"], meta["rows_redelivered"]) == (14, 13, 1, 1)
    assert all(checks_of(result).values())

    table = tmp_warehouse.read("eevion_sessions")
    row = table.filter(pl.col("source_id") == make_session(1)["sessionId"]).row(0, named=True)
    assert row["session_id"] == f"eevion:{make_session(1)['sessionId']}" and row["source"] == "eevion"
    assert row["origin"] == "listing" and row["status"] == "complete"
    assert row["location_id"] == "6511d259fa0789d00b928ffe" and row["time_zone"] == "America/Toronto"
    assert row["evse_uid"] == "2223" and row["connector_id"] == "port-1" and row["auth_method"] == "iOS"
    assert row["start_utc"] == utc("2026-11-20T15:17:00Z") and row["end_utc"] == utc("2026-11-20T16:18:00Z")
    assert str(row["settlement_date"]) == "2026-11-20" and row["total_time_s"] == 3660
    assert row["energy_wh"] == 9037.0 and row["currency"] == "CAD"
    assert row["reported_cost_excl_vat"] == Decimal("2.7100") and row["reported_cost_incl_vat"] == Decimal("3.0600")
    assert row["tariff_price"] == Decimal("0.300000") and row["tariff_ids"] == ["655fb8dbe3a4efc253eada3e"]
    charging = table.filter(pl.col("source_id") == make_session(4)["sessionId"]).row(0, named=True)
    assert charging["status"] == "charging" and charging["end_utc"] is None and charging["settlement_date"] is None
    hooked = table.filter(pl.col("source_id") == extra["sessionId"]).row(0, named=True)
    assert hooked["origin"] == "webhook" and hooked["energy_wh"] == 10480.0

    # the watermark is the newest updatedAt; the next listing asks from there (inclusive)
    register = WatermarkRegister(tmp_warehouse.registers_dir)
    mark = register.get("eevion", "sessions")
    assert mark == "2026-11-20T19:18:01.000000Z"  # session 11: 18:07 + 4260 s + 1 s
    run_assets([eevion_session_pages, eevion_sessions], _resources(eevion_api, tmp_warehouse, tmp_landing))
    last_body = json.loads(eevion_server.requests_to("/session")[-1].body)
    assert last_body["updatedOnOrAfter"] == int(utc(mark).timestamp() * 1000)
    again = tmp_warehouse.read("eevion_sessions")
    assert again.drop("record_ref").sort("session_id").equals(table.drop("record_ref").sort("session_id"))


def test_report_rows(eevion_server, eevion_api, tmp_warehouse, tmp_landing):
    eevion_server.load_sample(6)
    result = run_assets([eevion_report_pages, eevion_reports], _resources(eevion_api, tmp_warehouse, tmp_landing))
    request = json.loads(eevion_server.requests_to("/session/report")[-1].body)
    assert request == {"startTimestamp": int(utc("2026-11-20T00:00:00Z").timestamp() * 1000),
                       "endTimestamp": int(utc("2026-11-21T00:00:00Z").timestamp() * 1000), "groupBy": "station"}
    rows = tmp_warehouse.read("eevion_reports")
    groups = rows.filter(pl.col("row_kind") == "group").sort("group_key")
    assert groups["group_key"].to_list() == ["2222", "2223", "2224", "2225", "2227"]  # session 4 still charging
    total = rows.filter(pl.col("row_kind") == "total").row(0, named=True)
    assert total["count"] == 5.0 and total["total_energy_wh"] == float(sum(9000 + 37 * i for i in (0, 1, 2, 3, 5)))
    assert total["total_cost_cents"] == sum(groups["total_cost_cents"].to_list(), Decimal(0))
    assert metadata_of(result, "eevion_reports")["rows_in"] == 7 and all(checks_of(result).values())


def test_webhook_receiver_refuses_wrong_token_and_keeps_bad_bodies(tmp_landing):
    receiver = EevionWebhookReceiver(tmp_landing, WEBHOOK_TOKEN, clock=lambda: utc(f"{LANDING_DAY}T08:00:00Z")).start()
    try:
        wrong = httpx.post(f"{receiver.url}/eevion/guess/session-complete", json={"sessionId": "x"})
        assert wrong.status_code == 404
        assert not tmp_landing.day_dir("eevion/webhooks", LANDING_DAY).exists()
        bad = httpx.post(receiver.webhook_url(), content=b"{not json")
        assert bad.status_code == 200 and bad.json()["stored"].startswith("unparsed-")
        big = httpx.post(receiver.webhook_url(), content=b"x" * 2_000_000)
        assert big.status_code == 413
    finally:
        receiver.stop()
    stored = list(tmp_landing.day_dir("eevion/webhooks", LANDING_DAY).iterdir())
    assert [p.read_bytes() for p in stored] == [b"{not json"]


def test_get_single_session(eevion_server, eevion_api):
    eevion_server.load_sample(3)
    wanted = eevion_server.sessions[2]["sessionId"]
    assert json.loads(eevion_api.get_session(wanted))["sessionId"] == wanted
    with pytest.raises(ApiError) as failure:
        eevion_api.get_session("invalidId")
    assert failure.value.status == 400 and failure.value.message == "That session does not exist"


def test_station_maps_to_our_operator_location_and_evse():
    from assets.ingest.eevion.parse import parse_session
    from assets.reference.external_ids import EvseSite

    body = dict(make_session(1), stationId="2055A")
    stations = {"2055A": EvseSite("LOC-MPL-000005", "America/Toronto", "CA-MPL", "000055-1")}
    row = parse_session(body, "listing", stations)
    assert (row["operator_id"], row["location_id"], row["evse_uid"]) == ("CA-MPL", "LOC-MPL-000005", "000055-1")
    unknown = parse_session(dict(body, stationId="9999Z"), "listing", stations)
    assert unknown["operator_id"] is None and unknown["evse_uid"] == "9999Z"
