"""Settlement statements, hand-computed: two operators, two currencies, two VAT rates, a capped total,
unpriced sessions, unknown electricity cost and quarantined records; the month of two days; re-runs."""

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import dagster as dg
import pytest

from assets.settlement.assets import monthly_settlement_statements, settlement_statements
from tests.settlement.builders import (ocpi_tariff, write_electricity, write_priced, write_quarantine, write_sessions,
                                       write_tariffs)

DAY, NEXT = dt.date(2026, 10, 25), dt.date(2026, 10, 26)


def _priced(session_id, operator, currency, tariff, **amounts):
    return {"session_id": session_id, "operator_id": operator, "currency": currency, "tariff_id": tariff,
            **{k: D(v) for k, v in amounts.items()}}


@pytest.fixture
def warehouse(tmp_warehouse):
    write_tariffs(tmp_warehouse, [
        ocpi_tariff("T-EUR", "EUR", [{"type": "ENERGY", "price": 0.30, "vat": 21.0, "step_size": 1},
                                     {"type": "PARKING_TIME", "price": 6.0, "vat": 9.0, "step_size": 60}]),
        ocpi_tariff("T-GBP", "GBP", [{"type": "ENERGY", "price": 0.25, "vat": 20.0, "step_size": 1},
                                     {"type": "FLAT", "price": 0.50, "vat": 20.0, "step_size": 0}]),
    ])
    write_sessions(tmp_warehouse, DAY, [
        {"session_id": "s1", "operator_id": "NL-GRX", "currency": "EUR", "energy_wh": 10000.0},
        {"session_id": "s2", "operator_id": "NL-GRX", "currency": "EUR", "energy_wh": 5000.0},
        {"session_id": "s3", "operator_id": "NL-GRX", "currency": "EUR", "energy_wh": 2000.0},
        {"session_id": "s4", "operator_id": "GB-VLT", "currency": "GBP", "energy_wh": 8000.0},
        {"session_id": "s5", "operator_id": "GB-VLT", "currency": "GBP", "energy_wh": 0.0, "is_credit": True},
        {"session_id": "s6", "operator_id": "GB-VLT", "currency": "GBP", "energy_wh": 20000.0},
    ])
    write_priced(tmp_warehouse, DAY, [
        _priced("s1", "NL-GRX", "EUR", "T-EUR", total_energy_cost_excl="3.0000", total_energy_cost_incl="3.6300",
                total_parking_cost_excl="1.0000", total_parking_cost_incl="1.0900",
                total_cost_excl="4.0000", total_cost_incl="4.7200"),
        _priced("s2", "NL-GRX", "EUR", "T-EUR", total_energy_cost_excl="1.5000", total_energy_cost_incl="1.8150",
                total_cost_excl="1.5000", total_cost_incl="1.8150"),
        {"session_id": "s3", "operator_id": "NL-GRX", "error_code": "NO_TARIFF"},
        _priced("s4", "GB-VLT", "GBP", "T-GBP", total_energy_cost_excl="2.0000", total_energy_cost_incl="2.4000",
                total_fixed_cost_excl="0.5000", total_fixed_cost_incl="0.6000",
                total_cost_excl="2.5000", total_cost_incl="3.0000"),
        {"session_id": "s5", "operator_id": "GB-VLT", "error_code": "CREDIT_CDR"},
        # a max price of 8.00 excl. VAT cut 10.00 of energy: the 2.00 adjustment carries the same 20 %
        _priced("s6", "GB-VLT", "GBP", "T-GBP", total_energy_cost_excl="10.0000", total_energy_cost_incl="12.0000",
                total_cost_excl="8.0000", total_cost_incl="9.6000"),
    ])
    write_electricity(tmp_warehouse, DAY, [
        {"session_id": "s1", "electricity_cost": D("1.2345"), "currency": "EUR"},
        {"session_id": "s2", "electricity_cost": None, "currency": "EUR"},
        {"session_id": "s3", "electricity_cost": D("0.2000"), "currency": "EUR"},
        {"session_id": "s4", "electricity_cost": D("0.8000"), "currency": "GBP"},
        {"session_id": "s6", "electricity_cost": D("1.5000"), "currency": "GBP"},
    ])
    write_quarantine(tmp_warehouse, "ocpi_cdrs", DAY.isoformat(), ["MALFORMED_JSON", "MALFORMED_JSON", "UNKNOWN_TARIFF"])
    write_quarantine(tmp_warehouse, "ocpi_cdrs", "2026-10-24", ["MALFORMED_JSON"])  # another day: not counted
    return tmp_warehouse


def _materialize(asset, warehouse, key):
    result = dg.materialize([asset], partition_key=key, resources={"warehouse": warehouse})
    assert result.success
    return result


def _rows(warehouse, table, period, start):
    return warehouse.read(table, period=period, period_start=start).drop("period", "period_start", "period_end").rows(named=True)


def test_day_statement_two_currencies_two_vat_rates(warehouse):
    result = _materialize(settlement_statements, warehouse, DAY.isoformat())
    rows = {r["operator_id"]: r for r in _rows(warehouse, "settlement_statements", "day", DAY)}
    assert rows["NL-GRX"] == {
        "operator_id": "NL-GRX", "currency": "EUR", "sessions": 3, "sessions_priced": 2, "sessions_not_priced": 1,
        "sessions_without_energy": 0, "energy_wh": 17000.0, "revenue_excl_vat": D("5.5000"), "vat_amount": D("1.0350"),
        "revenue_incl_vat": D("6.5350"), "electricity_bought": D("1.4345"), "sessions_with_electricity_cost": 2,
        "sessions_without_electricity_cost": 1, "gross_margin": D("4.0655")}
    assert rows["GB-VLT"] == {
        "operator_id": "GB-VLT", "currency": "GBP", "sessions": 3, "sessions_priced": 2, "sessions_not_priced": 1,
        "sessions_without_energy": 1, "energy_wh": 28000.0, "revenue_excl_vat": D("10.5000"), "vat_amount": D("2.1000"),
        "revenue_incl_vat": D("12.6000"), "electricity_bought": D("2.3000"), "sessions_with_electricity_cost": 2,
        "sessions_without_electricity_cost": 1, "gross_margin": D("8.2000")}

    vat = [(r["operator_id"], r["currency"], r["vat_rate"], r["vat_rate_source"], r["sessions"], r["amount_excl_vat"],
            r["vat_amount"], r["amount_incl_vat"]) for r in _rows(warehouse, "settlement_statement_vat", "day", DAY)]
    assert vat == [
        ("GB-VLT", "GBP", D("20.0000"), "session+tariff", 2, D("10.5000"), D("2.1000"), D("12.6000")),
        ("NL-GRX", "EUR", D("9.0000"), "tariff", 1, D("1.0000"), D("0.0900"), D("1.0900")),
        ("NL-GRX", "EUR", D("21.0000"), "tariff", 2, D("4.5000"), D("0.9450"), D("5.4450")),
    ]
    exceptions = [(r["kind"], r["operator_id"], r["source_asset"], r["code"], r["records"])
                  for r in _rows(warehouse, "settlement_statement_exceptions", "day", DAY)]
    assert exceptions == [
        ("NOT_PRICED", "GB-VLT", "priced_sessions", "CREDIT_CDR", 1),
        ("NOT_PRICED", "NL-GRX", "priced_sessions", "NO_TARIFF", 1),
        ("QUARANTINED", None, "ocpi_cdrs", "MALFORMED_JSON", 2),
        ("QUARANTINED", None, "ocpi_cdrs", "UNKNOWN_TARIFF", 1),
    ]

    materialization = result.asset_materializations_for_node("settlement_statements")[0]
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert metadata["revenue_EUR_incl_vat"] == 6.535 and metadata["revenue_GBP_excl_vat"] == 10.5
    assert metadata["gross_margin_EUR"] == 4.0655 and metadata["quarantined_records"] == 3
    assert not any(k.endswith("_float") for k in metadata)
    assert "| NL-GRX | EUR | 3 | 1 | 17 | 5.5000 | 1.0350 | 6.5350 | 1.4345 | 4.0655 |" in metadata["statement"]
    assert all(c.passed for c in result.get_asset_check_evaluations())


def test_month_is_recomputed_from_its_days_and_reruns_are_byte_identical(warehouse, tmp_path):
    write_sessions(warehouse, NEXT, [{"session_id": "s7", "operator_id": "NL-GRX", "currency": "EUR", "energy_wh": 1000.0}])
    write_priced(warehouse, NEXT, [_priced("s7", "NL-GRX", "EUR", "T-EUR", total_parking_cost_excl="2.0000",
                                           total_parking_cost_incl="2.1800", total_cost_excl="2.0000",
                                           total_cost_incl="2.1800")])
    write_electricity(warehouse, NEXT, [{"session_id": "s7", "electricity_cost": D("0.1000"), "currency": "EUR"}])
    _materialize(monthly_settlement_statements, warehouse, "2026-10-01")
    month = {r["operator_id"]: r for r in _rows(warehouse, "settlement_statements", "month", dt.date(2026, 10, 1))}
    assert month["NL-GRX"]["sessions"] == 4
    assert month["NL-GRX"]["revenue_incl_vat"] == D("8.7150")
    assert month["NL-GRX"]["electricity_bought"] == D("1.5345")
    assert month["NL-GRX"]["gross_margin"] == D("5.9655")
    assert month["GB-VLT"]["revenue_excl_vat"] == D("10.5000")
    period_end = warehouse.read("settlement_statements", period="month")["period_end"].unique().to_list()
    assert period_end == [dt.date(2026, 10, 31)]
    nine = [r for r in _rows(warehouse, "settlement_statement_vat", "month", dt.date(2026, 10, 1)) if r["vat_rate"] == D("9.0000")]
    assert (nine[0]["sessions"], nine[0]["amount_excl_vat"], nine[0]["vat_amount"]) == (2, D("3.0000"), D("0.2700"))

    files = sorted(Path(warehouse.root).glob("settlement_statement*/**/*.parquet"))
    before = {f: f.read_bytes() for f in files}
    _materialize(monthly_settlement_statements, warehouse, "2026-10-01")
    assert {f: f.read_bytes() for f in files} == before


def test_vat_rate_of_each_amount():
    from assets.settlement.vat import assign_rates

    lines = [
        ("a", "energy", D("3.0000"), D("3.6300"), D("21.0000")),  # the tariff's rate fits
        ("b", "energy", D("10.0000"), D("11.3000"), D("0.0000")),  # tariffs row says N/A, the amounts say 13 %
        ("b", "adjustment", D("0.0001"), D("0.0000"), None),  # the total's rounding: the session's rate
        ("c", "energy", D("2.5000"), D("2.9988"), None),  # 2.5 x 19.95 % = 0.49875: the simplest rate that fits
        ("d", "adjustment", D("-0.0011"), D("0.0000"), None),  # nothing to go by
    ]
    assert assign_rates(lines) == [(D("21.0000"), "tariff"), (D("13.0000"), "derived"), (D("13.0000"), "session"),
                                   (D("19.9500"), "derived"), (None, "undetermined")]
