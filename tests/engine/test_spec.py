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


@pytest.mark.parametrize("module", ["platform", "eevion"])
def test_source_adapters_take_restrictions_from_the_table_never_by_name(module):
    # the platform and Eevion adapters say which quantity a source concept bounds; `spec.bounds` names the field
    import importlib
    import re

    source = inspect.getsource(importlib.import_module(f"tariff_engine.adapters.{module}"))
    code = "\n".join(line.split("#")[0] for line in source.split("\n"))
    named = sorted({spec.name for spec in THRESHOLDS if re.search(rf"\b{spec.name}\b\s*=|[\"']{spec.name}[\"']", code)})
    assert named == [], f"{module} names restrictions {named}; use spec.bounds(<quantity>, low, high)"


def test_bounds_come_from_the_rows_of_a_quantity():
    from tariff_engine.spec import bounds

    assert bounds("energy_before", Decimal(0), Decimal("20")) == {"min_kwh": Decimal(0), "max_kwh": Decimal("20")}
    assert bounds("idle", 0, None) == {"min_idle_duration": 0}  # 0 is a bound, None is none
    assert bounds("peak_power", high=Decimal("11"), high_inclusive=True) == {"max_peak_power": Decimal("11.000001")}
    with pytest.raises(LookupError, match="no MAX restriction on 'session_duration'"):
        bounds("session_duration", high=3600)
    with pytest.raises(TypeError, match="whole seconds"):
        bounds("since_start", low=Decimal("1.5"))
    with pytest.raises(ValueError, match="inclusive"):
        bounds("since_start", high=60, high_inclusive=True)


def test_a_new_row_reaches_the_adapters_through_bounds(monkeypatch):
    # adding `session_max_duration` (the README's worked example) is a table row: `bounds` finds it at once
    from tariff_engine import spec

    row = spec.ThresholdSpec("session_max_duration", "SECONDS", "MAX", "session_duration", "s", False, "E_SESS_MAX_DUR")
    monkeypatch.setattr(spec, "THRESHOLDS", spec.THRESHOLDS + (row,))
    assert spec.bounds("session_duration", 60, 3600) == {"session_min_duration": 60, "session_max_duration": 3600}
