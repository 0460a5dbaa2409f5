"""Partner settlement of a hand-computed month, contract validation and quarantine, re-runs.

October 2026 at GB-VLT, contract GB-VLT:NL-TNM v1 (every deduction): AC 70 % / DC 60 %, connection fee excluded,
electricity deducted and reimbursed, 0.10/0.25 per session, 0.01/0.02 per kWh, handling 2 %, platform fee 5.00.

| session | AC/DC | kWh | excl | incl | fixed | elec | shared | share | fees (session, kWh, handling) |
|---|---|---|---|---|---|---|---|---|---|
| S1 | AC | 10.123 | 5.00 | 6.00 | 0.50 | 1.20 | 3.30 | 2.3100 | 0.10, 0.1012, 0.1200 |
| S2 | DC | 30 | 15.00 | 18.00 | 1.00 | 4.50 | 9.50 | 5.7000 | 0.25, 0.6000, 0.3600 |

Month: share 8.01, reimbursed 5.70, session fees 0.35, kWh fees 0.70 (0.7012), handling 0.48, platform 5.00
→ net payable 8.01 + 5.70 - 0.35 - 0.70 - 0.48 - 5.00 = 7.18 GBP. S3 (NL-TNM, not priced) is listed as
NOT_PRICED; S4 (FR-RMG, no contract) is reported as NO_CONTRACT; S5 (direct customer) is no partner's.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from assets.partner_settlement import partner_contracts, partner_settlement_lines, partner_settlements
from assets.partner_settlement.contracts import accept_contracts

from .builders import CONTRACT, D, price, session, write_contracts, write_month, write_reference

MONTH = "2026-10-01"


def build(warehouse, landing, contracts=(CONTRACT,)):
    write_reference(warehouse)
    write_month(warehouse, [
        session("ocpi:S1", "2026-10-05", emsp="NL-TNM", energy_wh=10_123.0),
        session("ocpi:S2", "2026-10-20", emsp="NL-TNM", evse="E-DC", energy_wh=30_000.0),
        session("ocpi:S3", "2026-10-20", emsp="NL-TNM"),
        session("ocpi:S4", "2026-10-21", emsp="FR-RMG"),
        session("ocpi:S5", "2026-10-21", emsp=None, customer="cust-9"),
    ], [
        price("ocpi:S1", "2026-10-05", energy=("4.5000", "5.4000"), fixed=("0.5000", "0.6000")),
        price("ocpi:S2", "2026-10-20", energy=("14.0000", "16.8000"), fixed=("1.0000", "1.2000")),
        price("ocpi:S3", "2026-10-20", error_code="NO_TARIFF"),
        price("ocpi:S4", "2026-10-21", energy=("3.0000", "3.6000")),
        price("ocpi:S5", "2026-10-21", energy=("2.0000", "2.4000")),
    ], {"ocpi:S1": "1.2000", "ocpi:S2": "4.5000", "ocpi:S4": "0.5000", "ocpi:S5": "0.4000"})
    write_contracts(landing, list(contracts))


def run(warehouse, landing):
    result = dg.materialize([partner_contracts, partner_settlements], partition_key=MONTH,
                            resources={"warehouse": warehouse, "landing": landing}, selection=None)
    assert result.success
    return result


def test_a_month_under_a_contract_with_every_deduction(tmp_warehouse, tmp_landing):
    build(tmp_warehouse, tmp_landing)
    result = run(tmp_warehouse, tmp_landing)
    rows = {r["partner_id"]: r for r in tmp_warehouse.read("partner_settlements").iter_rows(named=True)}
    tnm = rows["NL-TNM"]
    assert (tnm["status"], tnm["contract_id"], tnm["contract_version"]) == ("SETTLED", "GB-VLT:NL-TNM", 1)
    assert (tnm["sessions"], tnm["sessions_ac"], tnm["sessions_dc"], tnm["sessions_not_settled"]) == (2, 1, 1, 1)
    assert tnm["energy_wh"] == D("40123")
    expected = {"revenue_excl_vat": "20.00", "revenue_incl_vat": "24.00", "connection_fees_excluded": "1.50",
                "electricity_cost": "5.70", "shared_revenue": "12.80", "partner_share": "8.01",
                "electricity_reimbursed": "5.70", "session_fees": "0.35", "kwh_fees": "0.70", "handling_fees": "0.48",
                "platform_fee": "5.00", "net_payable": "7.18"}
    assert {k: tnm[k] for k in expected} == {k: D(v) for k, v in expected.items()}
    rmg = rows["FR-RMG"]
    assert (rmg["status"], rmg["contract_id"], rmg["sessions"], rmg["revenue_excl_vat"], rmg["net_payable"]) == \
        ("NO_CONTRACT", None, 1, D("3.00"), None)
    assert rows["NL-TNM"]["partner_name"] == "TapNMove"

    children = {r["session_id"]: r for r in tmp_warehouse.read("partner_settlement_sessions").iter_rows(named=True)}
    assert sorted(children) == ["ocpi:S1", "ocpi:S2", "ocpi:S3", "ocpi:S4"]  # S5 is a direct customer's
    assert {k: children[k]["status"] for k in children} == {
        "ocpi:S1": "SETTLED", "ocpi:S2": "SETTLED", "ocpi:S3": "NOT_PRICED", "ocpi:S4": "NO_CONTRACT"}
    s1 = children["ocpi:S1"]
    assert (s1["shared_revenue"], s1["partner_share"], s1["kwh_fee"], s1["handling_fee"], s1["session_fee"]) == \
        (D("3.3000"), D("2.3100"), D("0.1012"), D("0.1200"), D("0.1000"))
    assert children["ocpi:S2"]["source_id"] == "S2"  # the CDR id the settlement covers
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["every_partner_session_accounted"] and checks["schema"]
    assert any("GB-VLT → NL-TNM (TapNMove): GB-VLT:NL-TNM v1, 2 sessions" in line and "net payable 7.18 GBP" in line
               for line in partner_settlement_lines(tmp_warehouse))


def test_contract_versions_by_month(tmp_warehouse, tmp_landing):
    """v1 ends in September, v2 (share AC 50 %) covers October: October uses v2."""
    v1 = copy.deepcopy(CONTRACT) | {"validTo": "2026-09-30"}
    v2 = copy.deepcopy(CONTRACT) | {"version": 2, "validFrom": "2026-10-01"}
    v2["revenueSharing"]["partnerSharePercentageAcEvse"] = "50"
    build(tmp_warehouse, tmp_landing, [v1, v2])
    run(tmp_warehouse, tmp_landing)
    tnm = tmp_warehouse.read("partner_settlements").filter(pl.col("partner_id") == "NL-TNM").row(0, named=True)
    # share = 3.30 × 50 % + 9.50 × 60 % = 1.65 + 5.70 = 7.35 → net 7.35 + 5.70 - 0.35 - 0.70 - 0.48 - 5.00 = 6.52
    assert (tnm["contract_version"], tnm["partner_share"], tnm["net_payable"]) == (2, D("7.35"), D("6.52"))


@pytest.mark.parametrize("change, code", [
    (lambda c: c["revenueSharing"].update(partnerSharePercentageAcEvse="120"), "INVALID_VALUE"),
    (lambda c: c["revenueSharing"].update(feePerKwhAc="-0.01"), "INVALID_VALUE"),
    (lambda c: c.pop("operatorId"), "MISSING_FIELD"),
    (lambda c: c.update(currency="XXY"), "INVALID_CURRENCY"),
    (lambda c: c.update(validFrom="2026-10-15"), "INVALID_PERIOD"),
    (lambda c: c.update(validTo="2025-12-31"), "INVALID_PERIOD"),
    (lambda c: c["revenueSharing"].update(deductElectricityCost=False), "REIMBURSE_WITHOUT_DEDUCT"),
    (lambda c: c.update(vatTreatment="sometimes"), "INVALID_VALUE"),
    (lambda c: c.update(version="1"), "INVALID_VALUE"),
])
def test_a_bad_contract_is_quarantined_with_its_reason(change, code):
    bad = copy.deepcopy(CONTRACT)
    change(bad)
    accepted, rejected = accept_contracts([("contracts/x/bad.json", json.dumps(bad))])
    assert accepted == [] and [r.reason_code for r in rejected] == [code]


def test_duplicates_overlaps_and_malformed_files(tmp_warehouse, tmp_landing):
    overlapping = copy.deepcopy(CONTRACT) | {"contractId": "other", "validFrom": "2026-06-01"}
    build(tmp_warehouse, tmp_landing, [CONTRACT, CONTRACT, overlapping, "{not json"])
    result = run(tmp_warehouse, tmp_landing)
    assert tmp_warehouse.read("partner_contracts").height == 1
    quarantined = tmp_warehouse.read("quarantine", source_asset="partner_contracts").sort("record_ref")
    assert quarantined["reason_code"].to_list() == ["DUPLICATE_VERSION", "OVERLAPPING_VALIDITY", "MALFORMED_JSON"]
    conservation = next(c for c in result.get_asset_check_evaluations() if c.check_name == "conservation")
    assert conservation.passed and conservation.metadata["rows_in"].value == 4


def test_rerun_is_byte_identical(tmp_warehouse, tmp_landing):
    build(tmp_warehouse, tmp_landing)
    run(tmp_warehouse, tmp_landing)
    files = sorted(Path(tmp_warehouse.root).rglob("partner_settlement*/**/*.parquet"))
    before = [f.read_bytes() for f in files]
    run(tmp_warehouse, tmp_landing)
    assert files and [f.read_bytes() for f in files] == before


def test_demo_contracts_are_valid_and_leave_partners_uncovered():
    from data.sources.contracts import UNCOVERED, demo_contracts, faulty_contract
    docs = demo_contracts() + [faulty_contract()]
    accepted, rejected = accept_contracts([(str(i), json.dumps(d)) for i, d in enumerate(docs)])
    assert len(accepted) == len(docs) - 1 and [r.reason_code for r in rejected] == ["INVALID_VALUE"]
    pairs = {(c.operator_id, c.partner_id) for c in accepted}
    assert all((op, emsp) not in pairs for op, emsp in UNCOVERED.items())


def test_generator_lands_the_demo_contracts_with_the_partners(tmp_path):
    from data.generate import main
    assert main(["--out", str(tmp_path), "--days", "1", "--sessions-per-day", "10", "--sources", "partners"]) == 0
    files = sorted((tmp_path / "contracts" / "2026-10-24").glob("*.json"))
    manifest = json.loads((tmp_path / "_manifest.json").read_text())
    assert len(files) == 9 == manifest["counts"]["contracts"]["2026-10-24"]["documents"]
    accepted, rejected = accept_contracts([(f.name, f.read_text()) for f in files])
    assert (len(accepted), [r.record_ref for r in rejected]) == (8, ["009-GB-VLT_FR-RMG-v1.json"])


def test_gross_priced_session_is_settled_net_of_the_issuers_vat(tmp_warehouse, tmp_landing):
    """S6: platform tariff, prices incl. 20 % VAT without a named rate (engine excl. = incl. = 12.00).

    revenue excl. = 12.00 × 100/120 = 10.00; shared = 10.00 - 1.00 electricity = 9.00; share 70 % = 6.30;
    + reimbursed 1.00 - 0.10 session - 0.10 kWh (10 kWh × 0.01) - 0.24 handling (12.00 × 2 %) - 5.00 platform
    = 1.86 on its own. S7 at an operator without a VAT rate is left out as VAT_RATE_UNKNOWN.
    """
    from resources.tables import get_spec
    build(tmp_warehouse, tmp_landing)
    tmp_warehouse.write_partition("operators", pl.DataFrame(
        [{"operator_id": "GB-VLT", "name": "Voltline UK", "country": "GB", "time_zone": "Europe/London",
          "currency": "GBP", "raw_payload": '{"vat_percent": 20}'}], schema=get_spec("operators").schema))
    tmp_warehouse.write_partition("tariffs", pl.DataFrame(
        [{"tariff_id": "T-GROSS", "source": "platform", "currency": "GBP", "tax_included": "YES", "tariff_json": "{}",
          "record_ref": "x", "raw_payload": "{}"}], schema=get_spec("tariffs").schema))
    gross = price("ocpi:S6", "2026-10-05", energy=("12.0000", "12.0000")) | {"tariff_id": "T-GROSS"}
    write_month(tmp_warehouse, [session("ocpi:S6", "2026-10-05", emsp="NL-TNM", energy_wh=10_000.0)], [gross],
                {"ocpi:S6": "1.0000"})
    write_contracts(tmp_landing, [CONTRACT, copy.deepcopy(CONTRACT) | {"contractId": "X", "operatorId": "NL-GRX"}])
    write_month(tmp_warehouse, [session("ocpi:S7", "2026-10-06", emsp="NL-TNM", operator="NL-GRX")],
                [price("ocpi:S7", "2026-10-06", energy=("3.0000", "3.0000")) | {"tariff_id": "T-GROSS"}], {"ocpi:S7": "0.5000"})
    run(tmp_warehouse, tmp_landing)
    s6 = tmp_warehouse.read("partner_settlement_sessions").filter(pl.col("session_id") == "ocpi:S6").row(0, named=True)
    assert (s6["status"], s6["revenue_excl_vat"], s6["revenue_incl_vat"], s6["shared_revenue"], s6["partner_share"],
            s6["handling_fee"]) == ("SETTLED", D("10.0000"), D("12.0000"), D("9.0000"), D("6.3000"), D("0.2400"))
    tnm = tmp_warehouse.read("partner_settlements").filter(pl.col("operator_id") == "GB-VLT",
                                                           pl.col("partner_id") == "NL-TNM").row(0, named=True)
    # With S2 of build() (20 October, unchanged): 1.86 + S2's 5.70 + 4.50 - 0.25 - 0.60 - 0.36 = 10.85.
    assert (tnm["sessions"], tnm["net_payable"]) == (2, D("10.85"))
    s7 = tmp_warehouse.read("partner_settlement_sessions").filter(pl.col("session_id") == "ocpi:S7").row(0, named=True)
    assert s7["status"] == "VAT_RATE_UNKNOWN"


def test_a_contract_without_sessions_still_owes_its_platform_fee(tmp_warehouse, tmp_landing):
    quiet = copy.deepcopy(CONTRACT) | {"contractId": "GB-VLT:BE-PLG", "partnerId": "BE-PLG", "monthlyPlatformFee": "12.345"}
    build(tmp_warehouse, tmp_landing, [CONTRACT, quiet])
    run(tmp_warehouse, tmp_landing)
    plg = tmp_warehouse.read("partner_settlements").filter(pl.col("partner_id") == "BE-PLG").row(0, named=True)
    assert (plg["status"], plg["sessions"], plg["platform_fee"], plg["net_payable"]) == ("SETTLED", 0, D("12.35"), D("-12.35"))
