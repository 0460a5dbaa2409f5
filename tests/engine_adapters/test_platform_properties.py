"""Property tests of the platform adapter: the folded flat fees of `standard` tariffs equal the plain sum of
every fee the session reached, and the kernels price adapter output exactly like the reference."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tariff_engine.adapters.platform import tariff_from_platform

from .conftest import Span, build_session, price

FEES = st.sampled_from([0, 0.5, 2, 3.25])


@st.composite
def standard_tariffs(draw):
    """A `standard` tariff with random kWh / duration levels, flat fees and a gated connection fee."""
    kwh_bounds = sorted(set(draw(st.lists(st.integers(1, 30), min_size=0, max_size=3))))
    kwh_levels = []
    for i, low in enumerate([0] + kwh_bounds):
        high = kwh_bounds[i] if i < len(kwh_bounds) else None
        kwh_levels.append({"firstKwh": low, "lastKwh": high, "feePerKwh": draw(FEES), "flatFee": draw(FEES)})
    unit_bounds = sorted(set(draw(st.lists(st.integers(0, 20), min_size=0, max_size=3))))
    duration_levels, first = [], 0
    for last in unit_bounds:
        if last < first:
            continue
        duration_levels.append({"firstUnit": first, "lastUnit": last, "feePerUnit": draw(FEES), "flatFee": draw(FEES)})
        first = last + 1
    duration_levels.append({"firstUnit": first, "lastUnit": None, "feePerUnit": draw(FEES), "flatFee": draw(FEES)})
    pricing = {"pricePeriodInMinutes": draw(st.sampled_from([1, 15, 30])), "multiPricePerKwh": kwh_levels,
               "multiPricePerDuration": duration_levels, "connectionFee": draw(FEES),
               "connectionFeeMinimumSessionDuration": draw(st.sampled_from([None, 5, 45])),
               "connectionFeeMinimumSessionEnergy": draw(st.sampled_from([None, 1, 12.5]))}
    return {"id": 1, "type": "standard", "currency": "EUR", "pricing": pricing}


def expected_flat(pricing: dict, minutes: Decimal, kwh: Decimal) -> Decimal:
    """Sum of the fees the session reached, computed directly from the platform fields."""
    total = Decimal(0)
    gate_minutes = pricing["connectionFeeMinimumSessionDuration"]
    gate_kwh = pricing["connectionFeeMinimumSessionEnergy"]
    if (gate_minutes is None or minutes >= gate_minutes) and (gate_kwh is None or kwh >= Decimal(str(gate_kwh))):
        total += Decimal(str(pricing["connectionFee"]))
    for level in pricing["multiPricePerKwh"]:
        if kwh >= level["firstKwh"]:
            total += Decimal(str(level["flatFee"]))
    for level in pricing["multiPricePerDuration"]:
        if minutes >= level["firstUnit"] * pricing["pricePeriodInMinutes"]:
            total += Decimal(str(level["flatFee"]))
    return total


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=standard_tariffs(),
       spans=st.lists(st.tuples(st.integers(1, 240), st.integers(0, 25)), min_size=1, max_size=4))
def test_standard_flat_fees_are_the_sum_of_the_levels_reached(document, spans):
    tariff = tariff_from_platform(document)
    session = build_session("2024-10-02T08:00", "Europe/Berlin", [Span(m, str(k)) for m, k in spans])
    minutes = Decimal(sum(m for m, _ in spans))
    kwh = Decimal(sum(k for _, k in spans))
    result = price(tariff, session)  # also requires kernel == reference
    assert result.total_fixed_cost.incl_vat == expected_flat(document["pricing"], minutes, kwh).quantize(Decimal("0.0001"))
