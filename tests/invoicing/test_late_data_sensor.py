"""The late-data sensor: a re-priced day of an invoiced month flags the invoices it changed and asks
`monthly_invoicing` to re-run the month, once per change."""

from __future__ import annotations

import dagster as dg

import assets.invoicing as invoicing
import assets.partner_settlement as partner_settlement
from sensors.monthly import defs as monthly_defs
from tests.invoicing.test_invoices import build, run
from tests.partner_settlement.builders import price, session, write_month

DEFS = dg.Definitions.merge(partner_settlement.defs, invoicing.defs, monthly_defs)  # resources given per test


def _evaluate(sensor, instance, warehouse, landing, cursor=None):
    definitions = dg.Definitions.merge(DEFS, dg.Definitions(resources={"warehouse": warehouse, "landing": landing}))
    with dg.build_sensor_context(instance=instance, resources={"warehouse": warehouse},
                                 cursor=cursor, definitions=definitions) as context:
        return sensor.evaluate_tick(context)


def test_sensor_flags_the_changed_invoice_and_requests_the_month(tmp_warehouse, tmp_landing):
    build(tmp_warehouse, tmp_landing)
    run(tmp_warehouse, tmp_landing)
    sensor = next(s for s in monthly_defs.sensors if s.name == "late_data_invoice_flags")
    instance = dg.DagsterInstance.ephemeral()
    # 20 October re-settled with one more session of cust-2 (the day's other sessions unchanged).
    write_month(tmp_warehouse, [
        session("ocpi:S2", "2026-10-20", emsp="NL-TNM", evse="E-DC", energy_wh=30_000.0),
        session("ocpi:U", "2026-10-20", customer="cust-3"),
        session("ocpi:LATE", "2026-10-20", customer="cust-2", hour=15),
    ], [
        price("ocpi:S2", "2026-10-20", energy=("14.0000", "16.8000"), fixed=("1.0000", "1.2000")),
        price("ocpi:U", "2026-10-20", error_code="NO_TARIFF"),
        price("ocpi:LATE", "2026-10-20", energy=("2.0000", "2.4000")),
    ], {})
    instance.report_runless_asset_event(dg.AssetMaterialization("priced_sessions", partition="2026-10-20"))
    result = _evaluate(sensor, instance, tmp_warehouse, tmp_landing)
    assert [(r.partition_key, r.tags["chargeledger/settlement_date"]) for r in result.run_requests] == [
        ("2026-10-01", "2026-10-20")]
    flags = tmp_warehouse.read("invoice_flags")  # exported by the next run; the register holds it now
    from assets.invoicing.register import month_flags
    open_flags = month_flags(tmp_warehouse.registers_dir, "2026-10-01")
    assert [(f["number"], f["reason"], f["resolved_by"]) for f in open_flags] == [("GB-VLT-INV-000002", "LATE_DATA", None)]
    assert flags.is_empty()
    # Evaluated again from the start (same event): the invoice already has an open flag, nothing is requested;
    # from the cursor the first tick left, there is no new event at all.
    assert not _evaluate(sensor, instance, tmp_warehouse, tmp_landing).run_requests
    later = _evaluate(sensor, instance, tmp_warehouse, tmp_landing, cursor=result.cursor)
    assert not later.run_requests and later.cursor == result.cursor


def test_days_of_two_months_changed_between_ticks_are_both_seen(tmp_warehouse, tmp_landing):
    build(tmp_warehouse, tmp_landing)
    write_month(tmp_warehouse, [session("ocpi:N1", "2026-09-15", customer="cust-1")],
                [price("ocpi:N1", "2026-09-15", energy=("1.0000", "1.2000"))], {})
    run(tmp_warehouse, tmp_landing)
    assert dg.materialize([invoicing.invoices], partition_key="2026-09-01", resources={"warehouse": tmp_warehouse},
                          run_config={"ops": {"invoices": {"config": {"issued_on": "2026-10-01"}}}}).success
    sensor = next(s for s in monthly_defs.sensors if s.name == "late_data_invoice_flags")
    instance = dg.DagsterInstance.ephemeral()
    # Both re-settled before the next tick: 4 October loses cust-2's session, 15 September gains one for cust-1.
    write_month(tmp_warehouse, [session("ocpi:B", "2026-10-04", customer="cust-1", hour=8)],
                [price("ocpi:B", "2026-10-04", energy=("3.3333", "4.0000"))], {})
    write_month(tmp_warehouse, [session("ocpi:N1", "2026-09-15", customer="cust-1"),
                                session("ocpi:N2", "2026-09-15", customer="cust-1", hour=12)],
                [price("ocpi:N1", "2026-09-15", energy=("1.0000", "1.2000")),
                 price("ocpi:N2", "2026-09-15", energy=("2.0000", "2.4000"))], {})
    for day in ("2026-10-04", "2026-09-15"):
        instance.report_runless_asset_event(dg.AssetMaterialization("priced_sessions", partition=day))
    result = _evaluate(sensor, instance, tmp_warehouse, tmp_landing)
    assert sorted(r.partition_key for r in result.run_requests) == ["2026-09-01", "2026-10-01"]
    from assets.invoicing.register import month_flags
    assert [f["number"] for f in month_flags(tmp_warehouse.registers_dir, "2026-10-01")] == ["GB-VLT-INV-000002"]
    assert [f["number"] for f in month_flags(tmp_warehouse.registers_dir, "2026-09-01")] == ["GB-VLT-INV-000004"]
