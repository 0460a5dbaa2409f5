"""`priced_sessions` on a hand-built day: exact amounts computed by hand, error codes, differences, re-runs."""

from __future__ import annotations

import json
from decimal import Decimal

import dagster as dg
import pytest

from assets.pricing import priced_sessions, tariffs

from .conftest import DAY, ocpi_tariff, period, session, write_periods, write_sessions

CDR_OWN = ocpi_tariff("CDR-OWN", [{"type": "TIME", "price": 2.00, "vat": 10.0, "step_size": 1}])
EEVION_SESSION = {"sessionId": "e-9", "currency": "CAD", "taxIncluded": False,
                  "taxes": [{"description": "HST 13%", "amount": 0.52}],
                  "tariff": {"type": "kwh", "price": 0.4, "paymentCycleUnit": "hour", "priceIncrement": 0,
                             "id": "e1", "name": "$0.40/kWh", "isPrivate": False}}
# An escalating idle fee without a cap: the adapter refuses it (the fee would rise without limit).
EEVION_REFUSED = EEVION_SESSION | {"sessionId": "e-10", "tariff": EEVION_SESSION["tariff"] | {
    "priceIncrement": 1, "idleFee": {"price": 1.2, "unit": "hour", "isActive": True}}}
D = Decimal


@pytest.fixture
def day(tmp_warehouse, landed_tariffs, reference):
    """Ten sessions covering every way a session is priced or not; tariffs materialized first."""
    wh = tmp_warehouse
    assert dg.materialize([tariffs], resources={"warehouse": wh, "landing": landed_tariffs}).success
    at_e1 = {"location_id": "LOC-1", "evse_uid": "E-1"}
    write_sessions(wh, [
        # EVSE E-1 names T-ENERGY (OCPI) and 301 (platform): an OCPP session takes the OCPI one.
        session("ocpp:CP-1:1", "ocpp", "2026-10-25 10:00", "2026-10-25 11:00", **at_e1, currency="EUR",
                reported_cost_excl_vat=D("4.70"), reported_cost_incl_vat=D("5.64")),
        # A platform session whose snapshot is unknown takes the EVSE's platform tariff.
        session("cpms:4700001", "cpms_session", "2026-10-25 12:00", "2026-10-25 12:30", **at_e1, currency="EUR",
                tariff_ids=["88999"], reported_cost_incl_vat=D("6.50")),
        session("ocpi:NL-ABC:c1", "ocpi_cdr", "2026-10-25 14:00", "2026-10-25 16:00", currency="EUR",
                tariff_ids=["CDR-OWN"], raw_payload=json.dumps({"id": "c1", "tariffs": [CDR_OWN]}),
                reported_cost_excl_vat=D("3.00"), reported_cost_incl_vat=D("3.30")),
        session("interval:acme:c-1", "interval", "2026-10-25 09:00", "2026-10-25 09:30", location_id="LOC-1",
                evse_uid="E-2"),
        session("ocpi:NL-ABC:c1-credit", "ocpi_cdr", "2026-10-25 14:00", "2026-10-25 16:00", currency="EUR",
                is_credit=True, reported_cost_excl_vat=D("-3.00")),
        session("eevion:e-9", "eevion", "2026-10-25 18:00", "2026-10-25 19:00", currency="CAD", tariff_ids=["e1"],
                raw_payload=json.dumps(EEVION_SESSION), reported_cost_excl_vat=D("4.00"),
                reported_cost_incl_vat=D("4.52")),
        session("ocpp:CP-1:7", "ocpp", "2026-10-25 19:00", "2026-10-25 19:30", tariff_ids=["T-TIME"]),
        session("ocpp:CP-1:8", "ocpp", "2026-10-25 20:00", "2026-10-25 20:30", tariff_ids=["T-TIME"], currency="GBP",
                reported_cost_incl_vat=D("1.00")),
        session("eevion:e-10", "eevion", "2026-10-25 21:00", "2026-10-25 22:00", currency="CAD",
                tariff_ids=["e-unknown"], raw_payload=json.dumps(EEVION_REFUSED)),
        session("ocpp:CP-1:10", "ocpp", "2026-10-25 22:00", "2026-10-25 22:30", **at_e1),
    ])
    write_periods(wh, [
        period("ocpp:CP-1:1", 0, "2026-10-25 10:00", "2026-10-25 11:00", energy_wh=12345.0, time_s=3600.0),
        period("cpms:4700001", 0, "2026-10-25 12:00", "2026-10-25 12:30", energy_wh=5000.0, time_s=1800.0),
        period("ocpi:NL-ABC:c1", 0, "2026-10-25 14:00", "2026-10-25 15:30", energy_wh=3000.0, time_s=5400.0),
        period("ocpi:NL-ABC:c1", 1, "2026-10-25 15:30", "2026-10-25 16:00", state="PARKING", parking_s=1800.0),
        period("interval:acme:c-1", 0, "2026-10-25 09:00", "2026-10-25 09:30", energy_wh=700.0, time_s=1800.0),
        period("eevion:e-9", 0, "2026-10-25 18:00", "2026-10-25 19:00", energy_wh=10000.0, time_s=3600.0),
        period("ocpp:CP-1:8", 0, "2026-10-25 20:00", "2026-10-25 20:30", energy_wh=2000.0, time_s=1800.0),
        period("eevion:e-10", 0, "2026-10-25 21:00", "2026-10-25 22:00", energy_wh=1000.0, time_s=3600.0),
        period("ocpp:CP-1:10", 0, "2026-10-25 22:00", "2026-10-25 22:30", energy_wh=1000.0, time_s=1800.0),
    ])
    return wh


def _price(wh):
    result = dg.materialize([priced_sessions], partition_key=DAY.isoformat(), resources={"warehouse": wh},
                            selection=[priced_sessions])
    assert result.success
    return result


def _rows(wh) -> dict[str, dict]:
    return {r["session_id"]: r for r in wh.read("priced_sessions", settlement_date=DAY).iter_rows(named=True)}


def test_amounts_match_the_hand_computation(day):
    _price(day)
    rows = _rows(day)
    assert len(rows) == 10
    s1 = rows["ocpp:CP-1:1"]  # 12.345 kWh x 0.30 = 3.7035 + FLAT 1.00; VAT 20 %
    assert (s1["tariff_id"], s1["tariff_origin"], s1["currency"]) == ("T-ENERGY", "evse", "EUR")
    assert (s1["total_energy_cost_excl"], s1["total_energy_cost_incl"]) == (D("3.7035"), D("4.4442"))
    assert (s1["total_fixed_cost_excl"], s1["total_fixed_cost_incl"]) == (D("1.0000"), D("1.2000"))
    assert (s1["total_cost_excl"], s1["total_cost_incl"]) == (D("4.7035"), D("5.6442"))
    assert (s1["total_time_cost_excl"], s1["total_parking_cost_excl"], s1["total_reservation_cost_excl"]) == (D(0),) * 3
    s2 = rows["cpms:4700001"]  # platform flat rate, gross, no tax split
    assert (s2["tariff_id"], s2["tariff_origin"]) == ("301", "evse")
    assert (s2["total_cost_excl"], s2["total_cost_incl"], s2["total_fixed_cost_incl"]) == (D("6.0000"),) * 3
    s3 = rows["ocpi:NL-ABC:c1"]  # the CDR's own tariff: 1.5 h x 2.00 = 3.00, VAT 10 %; parking is free
    assert (s3["tariff_id"], s3["tariff_origin"], s3["period_count"]) == ("CDR-OWN", "session_payload", 2)
    assert (s3["total_time_cost_excl"], s3["total_cost_incl"], s3["total_parking_cost_incl"]) == (
        D("3.0000"), D("3.3000"), D("0.0000"))
    assert (s3["total_time_s"], s3["total_parking_s"]) == (7200, 1800)
    s6 = rows["eevion:e-9"]  # the Eevion session's tariff: 10 kWh x 0.40 = 4.00 + HST 13 % = 4.52
    assert (s6["tariff_id"], s6["tariff_origin"], s6["currency"]) == ("e1", "session_payload", "CAD")
    assert (s6["total_energy_cost_excl"], s6["total_cost_incl"]) == (D("4.0000"), D("4.5200"))
    s8 = rows["ocpp:CP-1:8"]  # 0.5 h x 2.00
    assert (s8["tariff_origin"], s8["total_cost_excl"], s8["total_cost_incl"]) == ("session", D("1.0000"), D("1.1000"))
    s10 = rows["ocpp:CP-1:10"]  # 1 kWh x 0.30 + 1.00, VAT 20 %
    assert (s10["total_cost_excl"], s10["total_cost_incl"]) == (D("1.3000"), D("1.5600"))


def test_unpriceable_sessions_are_rows_with_a_code(day):
    _price(day)
    rows = _rows(day)
    codes = {sid: r["error_code"] for sid, r in rows.items() if r["error_code"]}
    assert codes == {"interval:acme:c-1": "NO_TARIFF", "ocpi:NL-ABC:c1-credit": "CREDIT_CDR",
                     "ocpp:CP-1:7": "NO_PERIODS", "eevion:e-10": "TARIFF_REFUSED"}
    assert "$.tariff.idleFee.maxPrice" in rows["eevion:e-10"]["error"]
    for sid in codes:
        assert rows[sid]["total_cost_incl"] is None and rows[sid]["difference_incl_vat"] is None


def test_differences_to_reported_costs(day):
    result = _price(day)
    rows = _rows(day)
    status = {sid: (r["difference_excl_vat"], r["difference_incl_vat"]) for sid, r in rows.items()
              if r["error_code"] is None}
    assert status == {
        "ocpp:CP-1:1": (D("0.0035"), D("0.0042")),
        "cpms:4700001": (None, D("-0.5000")),
        "ocpi:NL-ABC:c1": (D("0.0000"), D("0.0000")),
        "eevion:e-9": (D("0.0000"), D("0.0000")),
        "ocpp:CP-1:8": (None, None),  # reported in GBP, tariff in EUR: not comparable
        "ocpp:CP-1:10": (None, None),
    }
    assert "reconciliation" not in day.read("priced_sessions").columns  # the reasons live in `reconciliation`
    meta = {k: v.value for k, v in result.asset_materializations_for_node("priced_sessions")[0].metadata.items()}
    assert (meta["sessions"], meta["sessions_priced"], meta["sessions_not_priced"]) == (10, 6, 4)
    assert (meta["errors_no_tariff"], meta["errors_credit_cdr"], meta["errors_no_periods"],
            meta["errors_tariff_refused"]) == (1, 1, 1, 1)
    # 5.6442 + 6.0000 + 3.3000 + 1.1000 + 1.5600 and 4.7035 + 6 + 3 + 1 + 1.3
    # one float per currency for the plots, the exact text in the Markdown (assets/finance_metadata.py)
    assert (meta["revenue_EUR_incl_vat"], meta["revenue_EUR_excl_vat"]) == (17.6042, 16.0035)
    assert (meta["revenue_CAD_incl_vat"], meta["revenue_CAD_excl_vat"]) == (4.52, 4.0)
    assert "| EUR | 16.0035 | 17.6042 |" in meta["revenue"] and "| CAD | 4.0000 | 4.5200 |" in meta["revenue"]
    assert not any(key.endswith("_float") for key in meta)
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"one_row_per_session": True, "schema": True}


def test_rerun_is_byte_identical(day):
    _price(day)
    path = day.root_path / "priced_sessions" / f"settlement_date={DAY.isoformat()}" / "part-0.parquet"
    first = path.read_bytes()
    _price(day)
    assert path.read_bytes() == first
    assert day.read("priced_sessions").height == 10


def test_an_empty_day_writes_an_empty_partition(tmp_warehouse):
    _price(tmp_warehouse)
    assert tmp_warehouse.read("priced_sessions", settlement_date=DAY).height == 0
    assert (tmp_warehouse.root_path / "priced_sessions" / f"settlement_date={DAY.isoformat()}").exists()
