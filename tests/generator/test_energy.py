"""One physical session, one energy figure: OCPP registers, CDRs, platform, Eevion and interval data agree."""

from __future__ import annotations

import json
from decimal import Decimal

from tests.generator.conftest import page_items

REGISTER = "Energy.Active.Import.Register"


def _ocpp_energy(ocpp_lines) -> dict[str, int]:
    """Transaction id → meterStop − meterStart (1.6) or End − Begin register (2.0.1)."""
    starts: dict[str, int] = {}
    stops: dict[str, int] = {}
    start_ids: dict[str, str] = {}
    for _, env, _ in ocpp_lines:
        if env is None:
            continue
        frame = json.loads(env["raw"])
        if env["direction"] == "in" and frame[2] == "StartTransaction":
            start_ids[frame[1]] = str(frame[3]["meterStart"])
        elif env["direction"] == "out" and frame[1] in start_ids and "transactionId" in frame[2]:
            starts[str(frame[2]["transactionId"])] = int(start_ids[frame[1]])
        elif env["direction"] == "in" and frame[2] == "StopTransaction":
            stops[str(frame[3]["transactionId"])] = int(frame[3]["meterStop"])
        elif env["direction"] == "in" and frame[2] == "TransactionEvent" and frame[3]["eventType"] in ("Started", "Ended"):
            tx = frame[3]["transactionInfo"]["transactionId"]
            value = int(frame[3]["meterValue"][0]["sampledValue"][0]["value"])
            (starts if frame[3]["eventType"] == "Started" else stops)[tx] = value
    return {tx: stops[tx] - starts[tx] for tx in stops if tx in starts}


def _clean_sessions(manifest) -> set[str]:
    """Session refs whose register path was tampered with (meter reset or zero Transaction.Begin)."""
    kinds = ("register_reset", "transaction_begin_zero")
    return {r["transaction"] for k in kinds for r in manifest["faults"][k]["refs"]}


def test_cdr_energy_matches_its_source_session(small_run, ocpp_lines, cdrs):
    root, manifest = small_run
    ocpp = _ocpp_energy(ocpp_lines)
    tampered = {str(t) for t in _clean_sessions(manifest)}
    platform = {s["id"]: s["energyConsumption"]["total"] for v in page_items(root, "platform/sessions").values()
                for s in v}
    eevion = {s["sessionId"]: s["energy"] for v in page_items(root, "eevion/sessions").values() for s in v}
    checked = {"GB": 0, "NL": 0, "CA": 0}
    for _, _, cdr in cdrs:
        wh = int(round(Decimal(str(cdr["total_energy"])) * 1000))
        ref = cdr["session_id"]
        if cdr["country_code"] == "GB":
            if ref in tampered:
                continue
            assert ocpp[ref] == wh, ref
        elif cdr["country_code"] == "NL":
            assert platform[ref] == wh, ref
        else:
            assert eevion[ref] == wh, ref
        checked[cdr["country_code"]] += 1
        energy_period = cdr["charging_periods"][0]["dimensions"][0]
        assert energy_period["type"] == "ENERGY" and energy_period["volume"] == cdr["total_energy"]
    assert all(n > 5 for n in checked.values()), checked


def test_platform_cdrs_match_platform_sessions(small_run):
    root, _ = small_run
    sessions = {s["id"]: s for v in page_items(root, "platform/sessions").values() for s in v}
    cdrs = [c for v in page_items(root, "platform/cdrs").values() for c in v]
    assert cdrs
    for cdr in cdrs:
        session = sessions[cdr["sessionId"]]
        assert int(round(cdr["ocpiData"]["totalEnergy"] * 1000)) == session["energyConsumption"]["total"]
        assert cdr["startTime"] == session["startedAt"] and cdr["endTime"] == session["stoppedAt"]


def test_clock_aligned_buckets_sum_to_total(small_run):
    root, _ = small_run
    for sessions in page_items(root, "platform/sessions").values():
        for s in sessions:
            buckets = s["clockAlignedEnergyConsumption"]
            assert sum(b["energyConsumption"]["total"] for b in buckets) == s["energyConsumption"]["total"]
            if buckets:
                assert buckets[0]["start"] == s["startedAt"] and buckets[-1]["end"] == s["stoppedAt"]
                assert all(b["start"][14:] in ("00:00Z", "30:00Z") for b in buckets[1:])


def test_interval_charges_match_ocpp_registers(small_run, ocpp_lines):
    root, manifest = small_run
    ocpp = _ocpp_energy(ocpp_lines)
    tampered = {str(t) for t in _clean_sessions(manifest)}
    compared = 0
    for path in (root / "interval_charges").rglob("*.json"):
        for charge in json.loads(path.read_text())["charges"]:
            total_wh = int(round(Decimal(str(charge["consumptionKwh"])) * 1000))
            parts = sum(int(round(Decimal(str(i["consumptionKwh"])) * 1000)) for i in charge["intervals"])
            assert parts == total_wh
            assert charge["intervals"][0]["startDateTime"] == charge["startDateTime"]
            assert charge["intervals"][-1]["endDateTime"] == charge["endDateTime"]
            if charge["chargeExternalId"] not in tampered:
                assert ocpp[charge["chargeExternalId"]] == total_wh
                compared += 1
    assert compared > 10


def test_manifest_energy_equals_source_totals(small_run):
    root, manifest = small_run
    totals = manifest["totals"]["energy_wh_by_currency"]
    platform = sum(s["energyConsumption"]["total"] for v in page_items(root, "platform/sessions").values()
                   for s in v)
    eevion = sum(s["energy"] for v in page_items(root, "eevion/sessions").values() for s in v)
    assert platform == totals["EUR"] == manifest["totals"]["source_energy_wh"]["platform_sessions"]["EUR"]
    assert eevion == totals["CAD"]
    assert manifest["totals"]["source_energy_wh"]["ocpp"]["GBP"] == totals["GBP"]
    assert manifest["totals"]["kwh_by_currency"]["GBP"] == str(Decimal(totals["GBP"]) / 1000)


def test_cdr_totals_are_consistent(cdrs):
    for _, _, cdr in cdrs:
        parts = ("total_fixed_cost", "total_energy_cost", "total_time_cost", "total_parking_cost")
        for vat in ("excl_vat", "incl_vat"):
            assert sum(Decimal(str(cdr[p][vat])) for p in parts) == Decimal(str(cdr["total_cost"][vat]))
        assert abs(cdr["total_time"] - sum(d["volume"] for p in cdr["charging_periods"] for d in p["dimensions"]
                                           if d["type"] in ("TIME", "PARKING_TIME"))) < 1e-5
