"""The restriction spec table is the one place of each threshold rule: every row reaches the model, the OCPI
adapter, the compiled layout, the kernel arm and the reference; a one-restriction change is priced alike."""

from __future__ import annotations

import dataclasses
import inspect
from decimal import Decimal

import pytest

from tariff_engine import compile as compile_module
from tariff_engine import kernels
from tariff_engine.adapters.ocpi import parse_tariff
from tariff_engine.model import TariffRestrictions
from tariff_engine.spec import ELEMENT_COLUMNS, ELEMENT_WIDTH, THRESHOLDS


def test_every_row_reaches_model_layout_and_kernel_arm():
    fields = {f.name for f in dataclasses.fields(TariffRestrictions)}
    kernel_arms = inspect.getsource(kernels._element_matches)  # noqa: SLF001
    assert len(set(ELEMENT_COLUMNS.values())) == ELEMENT_WIDTH
    for spec in THRESHOLDS:
        assert spec.name in fields
        assert getattr(compile_module, spec.column) == ELEMENT_COLUMNS[spec.column]
        assert f"elements[e, {spec.column}]" in kernel_arms, f"no kernel arm reads {spec.column}"


@pytest.mark.parametrize("spec", THRESHOLDS, ids=lambda spec: spec.name)
def test_every_row_is_an_ocpi_field_with_its_json_type(spec):
    value = "7.5" if spec.kind == "DECIMAL" else 900
    document = {"id": "t", "currency": "EUR", "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.3}], "restrictions": {spec.name: value}}]}
    restrictions = parse_tariff(document).elements[0].restrictions
    assert getattr(restrictions, spec.name) == (Decimal("7.5") if spec.kind == "DECIMAL" else 900)


@pytest.mark.parametrize("spec", [s for s in THRESHOLDS if s.cuts_periods], ids=lambda spec: spec.name)
def test_every_cutting_row_is_an_edge_of_the_one_period_cutter(spec):
    # the pipeline and the quotes cut with `rules_from_tariff`: each cutting row gives exactly one edge there
    from tariff_engine.consumption.price_changes import rules_from_tariff
    from tariff_engine.model import PriceComponent, Tariff, TariffElement

    value = Decimal("7.5") if spec.kind == "DECIMAL" else 900
    tariff = Tariff("t", "EUR", (TariffElement((PriceComponent("ENERGY", Decimal("0.3")),),
                                               TariffRestrictions(**{spec.name: value})),))
    rules = rules_from_tariff(tariff)
    edges = [v for field in dataclasses.fields(rules) if field.name != "time_edges_s" for v in getattr(rules, field.name)]
    assert edges == [float(value * (1000 if spec.unit in ("kWh", "kW") else 1)) if spec.kind == "DECIMAL" else value]


def test_lint_derives_its_range_pairs_and_unit_checks_from_the_table():
    from tariff_engine.lint import lint_tariff
    from tariff_engine.model import PriceComponent, Tariff, TariffElement

    kw_rows = [s.name for s in THRESHOLDS if s.unit == "kW"]
    restrictions = TariffRestrictions(**{name: Decimal(7400) for name in kw_rows}, min_kwh=Decimal(20), max_kwh=Decimal(10))
    tariff = Tariff("t", "EUR", (TariffElement((PriceComponent("ENERGY", Decimal("0.3")),), restrictions),
                                 TariffElement((PriceComponent("ENERGY", Decimal("0.3")),))))
    codes = {(f.code, f.path.rsplit(".", 1)[-1]) for f in lint_tariff(tariff)}
    assert {("UNITS_MIX", name) for name in kw_rows} <= codes
    assert ("CONTRADICTORY_RESTRICTIONS", "max_kwh") in codes
