"""Company documents (seed 004): the optimistic version lock, EMP references and the registry per day."""

import datetime as dt
import json

import dagster as dg
import pytest

from assets.ingest.partners.assets import partner_changes, partners

CPO = "1e49b853-36fc-47ed-9826-97828b5b2fdd"
EMP = "2e49b853-36fc-47ed-9826-97828b5b2fdd"
EMP2 = "3e49b853-36fc-47ed-9826-97828b5b2fdd"


def company(cid, version, name, is_cpo=False, is_emp=True, emps=()):
    return {"data": {"id": cid, "type": "company",
                     "attributes": {"name": name, "version": version, "url": "http://www.energy.com",
                                    "is_cpo": is_cpo, "is_emp": is_emp,
                                    "external_source_mapping": {"going_electric_names": [name]},
                                    "created_at": 1546297200000, "updated_at": 1546297200000 + version},
                     "relationships": {"supported_emps": {"data": [{"type": "company", "id": e} for e in emps]}}}}


@pytest.fixture
def landed(tmp_landing):
    day1 = tmp_landing.root_path / "partners" / "2026-10-24"
    day2 = tmp_landing.root_path / "partners" / "2026-10-25"
    day1.mkdir(parents=True)
    day2.mkdir(parents=True)
    docs1 = [
        company(CPO, 1, "EnBW", is_cpo=True, is_emp=True, emps=[EMP]),   # EMP is defined later the same day
        company(EMP, 1, "Plugsurfing"),
        company(EMP, 1, "Plugsurfing again"),                            # stale: create twice
    ]
    for i, doc in enumerate(docs1):
        (day1 / f"{i:04d}.json").write_text(json.dumps(doc))
    # The seed's own example body has a trailing comma: not JSON.
    (day1 / "0003.json").write_text('{"data": {"id": "x", "attributes": {"a": [1],\n }}}')
    docs2 = [
        company(CPO, 2, "EnBW AG", is_cpo=True, is_emp=True, emps=[EMP]),
        company(CPO, 4, "EnBW skipped", is_cpo=True),                    # skips version 3
        company(EMP2, 1, "Roamer", emps=[]),
        company("4e49b853-36fc-47ed-9826-97828b5b2fdd", 1, "Lonely CPO", is_cpo=True, is_emp=False, emps=[EMP2, "9e49b853-36fc-47ed-9826-97828b5b2fdd"]),
        {"data": {"id": "not-a-uuid", "type": "company", "attributes": {}}},
    ]
    for i, doc in enumerate(docs2):
        (day2 / f"{i:04d}.json").write_text(json.dumps(doc))
    return tmp_landing


def test_version_lock_and_registry(landed, tmp_warehouse):
    resources = {"warehouse": tmp_warehouse, "landing": landed}
    for day in ("2026-10-24", "2026-10-25"):
        result = dg.materialize([partner_changes, partners], resources=resources, partition_key=day)
        assert result.success
        assert all(c.passed for c in result.get_asset_check_evaluations())

    q = tmp_warehouse.read("quarantine").sort("record_ref")
    assert list(zip(q["record_ref"], q["reason_code"])) == [
        ("partners/2026-10-24/0002.json", "CONFLICTING_VERSION"),  # version 1 again, other name
        ("partners/2026-10-24/0003.json", "MALFORMED_JSON"),
        ("partners/2026-10-25/0001.json", "VERSION_CONFLICT"),
        ("partners/2026-10-25/0003.json", "UNKNOWN_SUPPORTED_EMP"),
        ("partners/2026-10-25/0004.json", "INVALID_ID"),
    ]
    assert "needs version 3, got 4 (skips a version)" in q.filter(record_ref="partners/2026-10-25/0001.json")["reason"].item()

    day1 = tmp_warehouse.read("partners", as_of_date=dt.date(2026, 10, 24)).sort("company_id")
    assert list(zip(day1["company_id"], day1["version"], day1["name"])) == [(CPO, 1, "EnBW"), (EMP, 1, "Plugsurfing")]
    day2 = tmp_warehouse.read("partners", as_of_date=dt.date(2026, 10, 25)).sort("company_id")
    assert list(zip(day2["company_id"], day2["version"], day2["name"])) == [
        (CPO, 2, "EnBW AG"), (EMP, 1, "Plugsurfing"), (EMP2, 1, "Roamer")]
    assert day2.filter(company_id=CPO)["supported_emps"].item().to_list() == [EMP]

    # Re-running the first day after the second changes nothing: each partition replays the landing zone.
    before = tmp_warehouse.read("partner_changes").sort("record_ref")
    assert dg.materialize([partner_changes, partners], resources=resources, partition_key="2026-10-24").success
    assert tmp_warehouse.read("partner_changes").sort("record_ref").equals(before)
    assert tmp_warehouse.read("quarantine").height == 5
