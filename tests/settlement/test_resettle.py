"""The resettle job: finance re-settles an operator's days; the audit holds before/after totals per day."""

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.reconstruct import ReconstructableRepository  # how the webserver loads a location

from tests.settlement.builders import ocpi_tariff, write_priced, write_sessions, write_tariffs

DAY1, DAY2 = dt.date(2026, 10, 25), dt.date(2026, 10, 26)
ROOT = Path(__file__).resolve().parents[2]


def _priced(session_id, operator, currency, excl, incl):
    return {"session_id": session_id, "operator_id": operator, "currency": currency, "tariff_id": f"T-{currency}",
            "total_energy_cost_excl": D(excl), "total_energy_cost_incl": D(incl),
            "total_cost_excl": D(excl), "total_cost_incl": D(incl)}


LOCATION = "tests.settlement.resettle_location"


@pytest.fixture
def location(tmp_warehouse, tmp_path, monkeypatch):
    """The test code location on the test warehouse, and a persistent instance under tmp_path."""
    write_tariffs(tmp_warehouse, [ocpi_tariff("T-GBP", "GBP", [{"type": "ENERGY", "price": 0.25, "vat": 20.0}]),
                                  ocpi_tariff("T-EUR", "EUR", [{"type": "ENERGY", "price": 0.30, "vat": 21.0}])])
    for day, prefix in ((DAY1, "a"), (DAY2, "b")):
        write_sessions(tmp_warehouse, day, [
            {"session_id": f"{prefix}1", "operator_id": "GB-VLT", "currency": "GBP", "energy_wh": 8000.0},
            {"session_id": f"{prefix}2", "operator_id": "NL-GRX", "currency": "EUR", "energy_wh": 5000.0}])
        write_priced(tmp_warehouse, day, [_priced(f"{prefix}1", "GB-VLT", "GBP", "2.0000", "2.4000"),
                                          _priced(f"{prefix}2", "NL-GRX", "EUR", "1.0000", "1.2100")])
    monkeypatch.setenv("CHARGELEDGER_TEST_WAREHOUSE", tmp_warehouse.root)
    repository = ReconstructableRepository.for_module(LOCATION, "defs", working_directory=str(ROOT))
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        yield repository, instance


def _execute(location, job_name, run_config=None, partition=None):
    repository, instance = location
    tags = {"dagster/partition": partition} if partition else None
    config = (run_config or {}) | {"execution": {"config": {"in_process": {}}}}
    with dg.execute_job(repository.get_reconstructable_job(job_name), instance, run_config=config, tags=tags,
                        raise_on_error=False) as result:
        return result.success, result.run_id, [e for e in result.all_events if e.is_step_failure]


def _config(**overrides):
    config = {"operator_id": "GB-VLT", "start_date": DAY1.isoformat(), "end_date": DAY2.isoformat(),
              "reason": "idle fee of tariff 201 fixed"} | overrides
    return {"ops": {"resettle_days": {"config": config}}}


def test_audit_records_before_and_after_per_day(location, tmp_warehouse):
    _, instance = location
    for day in (DAY1, DAY2):
        assert _execute(location, "resettlement", partition=day.isoformat())[0]
    # a corrected price for DAY1 arrives: GB-VLT's session gains an idle fee, NL-GRX's is cut
    write_priced(tmp_warehouse, DAY1, [_priced("a1", "GB-VLT", "GBP", "4.0000", "4.8000"),
                                       _priced("a2", "NL-GRX", "EUR", "0.5000", "0.6050")])

    success, run_id, _ = _execute(location, "resettle", _config())
    assert success
    audit = tmp_warehouse.read("settlement_audit", run_id=run_id)
    rows = [(r["settlement_date"], r["operator_id"], r["currency"], r["sessions_before"], r["sessions_after"],
             r["revenue_excl_vat_before"], r["revenue_excl_vat_after"], r["revenue_incl_vat_before"],
             r["revenue_incl_vat_after"], r["gross_margin_after"], r["changed"]) for r in audit.iter_rows(named=True)]
    assert rows == [
        (DAY1, "GB-VLT", "GBP", 1, 1, D("2.0000"), D("4.0000"), D("2.4000"), D("4.8000"), D("4.0000"), True),
        (DAY1, "NL-GRX", "EUR", 1, 1, D("1.0000"), D("0.5000"), D("1.2100"), D("0.6050"), D("0.5000"), True),
        (DAY2, "GB-VLT", "GBP", 1, 1, D("2.0000"), D("2.0000"), D("2.4000"), D("2.4000"), D("2.0000"), False),
    ]
    assert set(audit["reason"]) == {"idle fee of tariff 201 fixed"}
    assert set(audit["requested_operator"]) == {"GB-VLT"}
    # one ordinary resettlement run per day, tagged with the resettle run
    tagged = instance.get_run_records(dg.RunsFilter(tags={"chargeledger/resettle_run": run_id}))
    assert sorted(r.dagster_run.tags["dagster/partition"] for r in tagged) == [DAY1.isoformat(), DAY2.isoformat()]
    # the statement now shows the corrected figures
    statement = tmp_warehouse.read("settlement_statements", period="day", period_start=DAY1)
    assert statement.filter(statement["operator_id"] == "GB-VLT")["revenue_incl_vat"].to_list() == [D("4.8000")]


@pytest.mark.parametrize("overrides, message", [
    ({"end_date": "2026-10-24"}, "is before start_date"),
    ({"start_date": "25/10/2026"}, "YYYY-MM-DD"),
    ({"reason": "  "}, "must not be empty"),
    ({"start_date": "2026-01-01", "end_date": "2026-12-31"}, "at most 93 days"),
])
def test_bad_requests_fail_with_a_clear_error_and_change_nothing(location, tmp_warehouse, overrides, message):
    success, _, failures = _execute(location, "resettle", _config(**overrides))
    assert not success
    assert message in failures[0].step_failure_data.error.message
    assert not tmp_warehouse.has_data("settlement_audit")
