"""`reconciliation` on the pricing tests' hand-built day: one reason per comparison, figures by hand."""

from __future__ import annotations

from decimal import Decimal as D

import dagster as dg
import pytest

from assets.pricing import priced_sessions
from assets.reconciliation import reconciliation
from assets.sessions.tables import SESSION_LINKS
from tests.pricing.conftest import DAY, full_frame, utc
from tests.pricing.test_priced_sessions import day  # noqa: F401  (fixture: ten sessions, every pricing path)


def _links(wh) -> None:
    """The CDR c1 (14:00-16:00, 0 Wh, 3.30 incl.) as OCPP metered it (5 Wh) and as Eevion billed it."""
    rows = [
        {"settlement_date": DAY, "session_id": "ocpi:NL-ABC:c1", "linked_session_id": "ocpp:CP-9:55",
         "linked_source": "ocpp", "start_utc": utc("2026-10-25 14:00"), "end_utc": utc("2026-10-25 16:00"),
         "energy_wh": 5.0, "currency": "EUR"},
        {"settlement_date": DAY, "session_id": "ocpi:NL-ABC:c1", "linked_session_id": "eevion:e-77",
         "linked_source": "eevion", "start_utc": utc("2026-10-25 14:00"), "end_utc": utc("2026-10-25 15:00"),
         "energy_wh": 0.0, "currency": "EUR", "reported_cost_excl_vat": D("3.00"), "reported_cost_incl_vat": D("4.00")},
    ]
    wh.write_partition(SESSION_LINKS, full_frame(SESSION_LINKS, rows), settlement_date=DAY)


def _reconcile(wh, tolerance: str = ""):
    _links(wh)
    assert dg.materialize([priced_sessions], partition_key=DAY.isoformat(), resources={"warehouse": wh}).success
    result = dg.materialize([reconciliation], partition_key=DAY.isoformat(), resources={"warehouse": wh},
                            run_config={"ops": {"reconciliation": {"config": {"tolerance": tolerance}}}})
    assert result.success
    table = wh.read("reconciliation", settlement_date=DAY)
    return result, {(r["session_id"], r["counterpart_id"], r["dimension"]): r for r in table.iter_rows(named=True)}


def test_every_session_total_gets_its_reason(day):
    _, rows = _reconcile(day)
    reasons = {sid: rows[(sid, sid, "total_incl")]["reason_code"] for sid, _, dim in rows if dim == "total_incl"
               and (sid, sid, dim) in rows}
    assert reasons == {
        "ocpp:CP-1:1": "AGREES",                  # 5.6442 against 5.64
        "cpms:4700001": "ENERGY_DIFFERS",         # 6.00 against 6.50; the record says 0 Wh, we priced 5 000 Wh
        "ocpi:NL-ABC:c1": "AGREES",
        "interval:acme:c-1": "SOURCE_HAS_NO_TARIFF",
        "ocpi:NL-ABC:c1-credit": "CREDIT_REVERSAL",
        "eevion:e-9": "AGREES",
        "ocpp:CP-1:7": "NOT_PRICED",
        "ocpp:CP-1:8": "CURRENCY",                # 1.00 GBP reported, the tariff is in EUR
        "eevion:e-10": "NOT_PRICED",
        "ocpp:CP-1:10": "NOT_REPORTED",
    }
    platform = rows[("cpms:4700001", "cpms:4700001", "total_incl")]
    assert (platform["ours"], platform["theirs"], platform["difference"], platform["unit"]) == (
        D("6.0000"), D("6.5000"), D("-0.5000"), "EUR")
    assert "source 0 Wh, priced 5000 Wh" in platform["explanation"]
    assert rows[("ocpp:CP-1:7", "ocpp:CP-1:7", "total_incl")]["explanation"].startswith("NO_PERIODS")
    assert "$.tariff.idleFee" in rows[("eevion:e-10", "eevion:e-10", "total_incl")]["explanation"]
    # Per dimension: the CDR itemises nothing here, the tax is 3.30 - 3.00 = 0.30 on both sides.
    tax = rows[("ocpi:NL-ABC:c1", "ocpi:NL-ABC:c1", "tax")]
    assert (tax["ours"], tax["theirs"], tax["reason_code"]) == (D("0.3000"), D("0.3000"), "AGREES")
    assert rows[("ocpi:NL-ABC:c1", "ocpi:NL-ABC:c1", "time")]["reason_code"] == "NOT_REPORTED"


def test_linked_records_are_compared_too(day):
    _, rows = _reconcile(day)
    ocpp = {dim: rows[("ocpi:NL-ABC:c1", "ocpp:CP-9:55", dim)] for dim in ("energy_wh", "duration_s", "total_incl")}
    assert (ocpp["energy_wh"]["ours"], ocpp["energy_wh"]["theirs"], ocpp["energy_wh"]["reason_code"]) == (
        D(0), D(5), "ENERGY_DIFFERS")
    assert (ocpp["duration_s"]["difference"], ocpp["duration_s"]["reason_code"]) == (D(0), "AGREES")
    assert ocpp["total_incl"]["reason_code"] == "NOT_REPORTED"
    eevion = {dim: rows[("ocpi:NL-ABC:c1", "eevion:e-77", dim)] for dim in ("duration_s", "total_incl")}
    assert (eevion["duration_s"]["difference"], eevion["duration_s"]["reason_code"]) == (D(3600), "DURATION_DIFFERS")
    # Eevion bills the same session under its own tariff: 3.30 against 4.00.
    assert (eevion["total_incl"]["difference"], eevion["total_incl"]["reason_code"]) == (D("-0.7000"), "TARIFF_DIFFERS")


def test_metadata_checks_and_markdown(day):
    result, _ = _reconcile(day)
    meta = {k: v.value for k, v in result.asset_materializations_for_node("reconciliation")[0].metadata.items()}
    assert (meta["sessions"], meta["sessions_agrees"], meta["sessions_energy_differs"], meta["sessions_not_priced"]) \
        == (10, 3, 1, 2)
    assert meta["difference_energy_differs_EUR"] == pytest.approx(-0.5)
    assert "| ENERGY_DIFFERS | EUR | -0.5000 |" in meta["summary"]
    assert "| cpms:4700001 | cpms:4700001 | total_incl | 6.0000 EUR | 6.5000 | -0.5000 | ENERGY_DIFFERS |" in meta["summary"]
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["every_session_reconciled"].passed and checks["schema"].passed
    within = checks["sessions_within_tolerance"]
    assert not within.passed and within.severity == dg.AssetCheckSeverity.WARN
    assert within.metadata["sessions_energy_differs"].value == 1


def test_tolerance_from_config_or_environment(day, monkeypatch):
    _, rows = _reconcile(day, tolerance="0.60")
    assert rows[("cpms:4700001", "cpms:4700001", "total_incl")]["reason_code"] == "AGREES"
    monkeypatch.setenv("CHARGELEDGER_RECONCILIATION_TOLERANCE", "0.70")
    _, rows = _reconcile(day)
    assert rows[("ocpi:NL-ABC:c1", "eevion:e-77", "total_incl")]["reason_code"] == "AGREES"


def test_rerun_is_byte_identical(day):
    _reconcile(day)
    path = day.root_path / "reconciliation" / f"settlement_date={DAY.isoformat()}" / "part-0.parquet"
    first = path.read_bytes()
    _reconcile(day)
    assert path.read_bytes() == first
