"""Hostile landing inputs, one case per failure class of issue 10, through the real assets (Dagster, temp warehouse).

For every source: the asset succeeds, `rows in` equals the records really in the files (the corpus states
each one), `in = accepted + quarantined` (the conservation check passes), and each record has exactly the
outcome the corpus expects: accepted, or quarantined with the expected reason code.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import dagster as dg
import polars as pl
import pytest

from assets.ingest.eevion.assets import eevion_sessions
from assets.ingest.interval_charges.assets import interval_charges
from assets.ingest.ocpi_cdrs.assets import ocpi_cdrs
from assets.ingest.partners.assets import partner_changes, partners
from assets.ingest.platform.ingest import platform_cdrs, platform_sessions
from assets.reference.assets import locations, operators
from tests.apis.conftest import write_reference
from tests.ingest.corpus import cases
from tests.ingest.corpus.cases import ACCEPTED, API_DAY, FILE_DAY


def _reference_files(landing) -> None:
    root = landing.root_path / "reference"
    root.mkdir(parents=True, exist_ok=True)
    (root / "operators.json").write_text(json.dumps([
        {"id": "BE-BEC", "name": "Gent Charging", "country": "BE", "time_zone": "Europe/Brussels", "currency": "EUR"},
        {"id": "homeco", "name": "HomeCo", "country": "GB", "time_zone": "Europe/London", "currency": "GBP"}]))
    (root / "locations.json").write_text(json.dumps([
        {"id": "LOC1", "country_code": "BE", "party_id": "BEC", "operator_id": "BE-BEC",
         "time_zone": "Europe/Brussels", "evses": [{"uid": "3256"}]}]))


def _materialize(asset, resources, day) -> dg.ExecuteInProcessResult:
    result = dg.materialize([asset], resources=resources, partition_key=day, raise_on_error=False)
    assert result.success, f"{asset.key.to_user_string()} failed on hostile input"
    return result


def _outcomes(result, warehouse, asset_name: str, table: str, day: str, ref_column: str = "record_ref") -> dict[str, str]:
    """Record ref → ACCEPTED or its reason code, for one asset run; fails on a ref with two outcomes."""
    accepted = warehouse.read(table)[ref_column].to_list() if warehouse.has_data(table) else []
    quarantine = warehouse.read("quarantine", source_asset=asset_name, partition_key=day)
    outcome = {ref: ACCEPTED for ref in accepted}
    for ref, code in zip(quarantine["record_ref"], quarantine["reason_code"]):
        assert ref not in outcome, f"{ref} is both {outcome[ref]} and {code}"
        outcome[ref] = code
    assert quarantine["reason"].str.len_chars().min() or not quarantine.height  # a reason for every row
    return outcome


def _assert_conserved(result, asset_name: str, expected: dict[str, str]) -> None:
    checks = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    conservation = checks[(asset_name, "conservation")]
    assert conservation.passed
    assert conservation.metadata["rows_in"].value == len(expected)  # the records really in the files
    assert checks[(asset_name, "quarantine_schema")].passed and checks[(asset_name, "schema")].passed


def _check(outcome: dict[str, str], expected: dict[str, str]) -> None:
    wrong = {ref: (outcome.get(ref), want) for ref, want in expected.items() if outcome.get(ref) != want}
    extra = sorted(set(outcome) - set(expected))
    assert not wrong and not extra, f"(got, expected): {wrong}; unexpected records: {extra}"


@pytest.fixture
def reference(tmp_landing, tmp_warehouse):
    _reference_files(tmp_landing)
    resources = {"warehouse": tmp_warehouse, "landing": tmp_landing}
    assert dg.materialize([operators, locations], resources=resources).success
    return resources


def test_ocpi_cdr_corpus(reference):
    landing, warehouse = reference["landing"], reference["warehouse"]
    expected = cases.land(landing.root_path, FILE_DAY, cases.ocpi_cases())
    result = _materialize(ocpi_cdrs, reference, FILE_DAY)
    _check(_outcomes(result, warehouse, "ocpi_cdrs", "ocpi_cdrs", FILE_DAY), expected)
    _assert_conserved(result, "ocpi_cdrs", expected)
    accepted = warehouse.read("ocpi_cdrs")
    # U+2028/U+2029/U+0085 inside a valid record: accepted whole, the characters kept
    sep = accepted.filter(pl.col("source_id") == "SEP-1").row(0, named=True)
    assert sep["auth_id"] == "0123\u2028456" and "Gent\u2028Zuid\u2029P+R\u0085Noord" in sep["raw_payload"]
    # a later last_updated is a new version, both accepted
    assert accepted.filter(pl.col("source_id") == "VER-1").height == 2
    # both conflicting payloads are kept, in quarantine
    quarantine = warehouse.read("quarantine", source_asset="ocpi_cdrs", partition_key=FILE_DAY)
    conflicts = quarantine.filter(pl.col("reason_code") == "CONFLICTING_VERSION")
    assert sorted(json.loads(p)["total_energy"] for p in conflicts["raw_payload"]) == [10.0, 11.0]
    # re-running the partition gives byte-identical files (accepted rows and quarantine slice)
    written = sorted(warehouse.root_path.rglob("*.parquet"))
    before = {p: p.read_bytes() for p in written}
    _materialize(ocpi_cdrs, reference, FILE_DAY)
    assert {p: p.read_bytes() for p in written} == before


def test_ocpi_cdr_versions_across_landing_days(reference):
    landing, warehouse = reference["landing"], reference["warehouse"]
    first = cases.Case("versions across days", cases.OCPI, "a.jsonl", cases.lines(cases.cdr("X-1"), cases.cdr("X-2")),
                       {":1": ACCEPTED, ":2": ACCEPTED})
    later = cases.Case("versions across days", cases.OCPI, "b.jsonl", cases.lines(
        cases.cdr("X-1"),                                                   # the same CDR again, a day later
        cases.cdr("X-2", total_energy=99.0),                                # same id and last_updated, other content
        cases.cdr("X-2", total_energy=99.0, last_updated="2026-10-25T09:00:00Z")),  # a correction: newer version
        {":1": "DUPLICATE_RECORD", ":2": "CONFLICTING_VERSION", ":3": ACCEPTED})
    cases.land(landing.root_path, FILE_DAY, [first])
    expected = cases.land(landing.root_path, "2026-10-26", [later])
    _materialize(ocpi_cdrs, reference, FILE_DAY)
    result = _materialize(ocpi_cdrs, reference, "2026-10-26")
    _assert_conserved(result, "ocpi_cdrs", expected)
    quarantine = warehouse.read("quarantine", source_asset="ocpi_cdrs", partition_key="2026-10-26")
    assert dict(zip(quarantine["record_ref"], quarantine["reason_code"])) == {
        ref: code for ref, code in expected.items() if code != ACCEPTED}
    assert "ocpi_cdrs/2026-10-25/a.jsonl:1" in quarantine.filter(pl.col("reason_code") == "DUPLICATE_RECORD")["reason"].item()
    accepted = warehouse.read("ocpi_cdrs", landing_date=dt.date(2026, 10, 26))["record_ref"].to_list()
    assert accepted == ["ocpi_cdrs/2026-10-26/b.jsonl:3"]


def test_platform_corpus(tmp_landing, tmp_warehouse):
    write_reference(tmp_warehouse)
    resources = {"warehouse": tmp_warehouse, "landing": tmp_landing}
    expected = cases.land(tmp_landing.root_path, API_DAY, cases.platform_cdr_cases())
    result = _materialize(platform_cdrs, resources, API_DAY)
    _assert_conserved(result, "platform_cdrs", expected)
    _check(_outcomes(result, tmp_warehouse, "platform_cdrs", "platform_cdrs", API_DAY), expected)

    expected = cases.land(tmp_landing.root_path, API_DAY, cases.platform_session_cases())
    result = _materialize(platform_sessions, resources, API_DAY)
    _assert_conserved(result, "platform_sessions", expected)
    _check(_outcomes(result, tmp_warehouse, "platform_sessions", "platform_sessions", API_DAY), expected)
    # child rows only for the accepted session
    assert set(tmp_warehouse.read("platform_charging_periods")["record_ref"]) <= {
        ref for ref, code in expected.items() if code == ACCEPTED}


def test_eevion_corpus(tmp_landing, tmp_warehouse):
    resources = {"warehouse": tmp_warehouse, "landing": tmp_landing}
    expected = cases.land(tmp_landing.root_path, API_DAY, cases.eevion_cases())
    result = _materialize(eevion_sessions, resources, API_DAY)
    _assert_conserved(result, "eevion_sessions", expected)
    _check(_outcomes(result, tmp_warehouse, "eevion_sessions", "eevion_sessions", API_DAY), expected)
    hook = tmp_warehouse.read("eevion_sessions").filter(pl.col("record_ref").str.contains("s10-")).row(0, named=True)
    assert hook["end_reason"] == "stopped\u2028by\u2029user\u0085" and hook["origin"] == "webhook"


def test_interval_charge_corpus(reference):
    landing, warehouse = reference["landing"], reference["warehouse"]
    expected = cases.land(landing.root_path, FILE_DAY, cases.interval_cases())
    result = _materialize(interval_charges, reference, FILE_DAY)
    _assert_conserved(result, "interval_charges", expected)
    _check(_outcomes(result, warehouse, "interval_charges", "interval_charges", FILE_DAY), expected)
    # no orphan intervals: only the two accepted charges (I-4 and I-8) have interval rows
    intervals = warehouse.read("interval_charge_intervals")
    assert sorted(set(intervals["session_id"])) == ["interval:homeco:HC-1:I-4", "interval:homeco:HC-1:I-8"]


def test_partner_corpus_and_replays_cannot_be_poisoned(reference):
    landing, warehouse = reference["landing"], reference["warehouse"]
    expected = cases.land(landing.root_path, FILE_DAY, cases.partner_cases())
    # the next day updates the EMP: its replay passes over every hostile document of FILE_DAY
    later = cases.Case("replay", "partners", "0001.json", json.dumps(cases.company(cases.EMP, 2, "Plugsurfing 2")).encode(),
                       {"": ACCEPTED})
    later_expected = cases.land(landing.root_path, "2026-10-26", [later])
    result = _materialize(partner_changes, reference, FILE_DAY)
    _assert_conserved(result, "partner_changes", expected)
    _check(_outcomes(result, warehouse, "partner_changes", "partner_changes", FILE_DAY), expected)

    for day in ("2026-10-26", "2026-10-27"):  # a later day, and a day with no documents at all
        assert dg.materialize([partner_changes, partners], resources=reference, partition_key=day).success
    assert warehouse.read("quarantine", source_asset="partner_changes", partition_key="2026-10-26").height == 0
    assert warehouse.read("partner_changes", landing_date=dt.date(2026, 10, 26))["record_ref"].to_list() == list(later_expected)
    registry = warehouse.read("partners", as_of_date=dt.date(2026, 10, 27)).sort("company_id")
    assert list(zip(registry["company_id"], registry["version"], registry["name"])) == [
        (cases.CPO, 1, "EnBW"), (cases.EMP, 2, "Plugsurfing 2")]


def corpus_summary() -> dict[str, Counter]:
    """Failure class → outcomes, over the whole corpus (printed by `python -m tests.ingest.corpus.test_corpus`)."""
    summary: dict[str, Counter] = {}
    for build in (cases.ocpi_cases, cases.platform_cdr_cases, cases.platform_session_cases, cases.eevion_cases,
                  cases.interval_cases, cases.partner_cases):
        for case in build():
            summary.setdefault(case.failure_class, Counter()).update(case.expected.values())
    return summary


if __name__ == "__main__":
    total = 0
    for failure_class, outcomes in sorted(corpus_summary().items()):
        total += sum(outcomes.values())
        print(f"{failure_class:40s} {sum(outcomes.values()):3d}  " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    print(f"records in the corpus: {total}")
