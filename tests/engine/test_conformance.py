"""OCPI conformance: the spec's worked examples (reference §1.9, both errata applied) priced exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tariff_engine.batch import price_sessions
from tariff_engine.reference import price_session

from .cases import cases

CASES = cases()


def _check(result, expected):
    assert result.error_code is None, result.error
    for field, (excl, incl) in expected.items():
        amount = getattr(result, field)
        assert (amount.excl_vat, amount.incl_vat) == (Decimal(excl), Decimal(incl)), field
        assert str(amount.excl_vat) == excl and str(amount.incl_vat) == incl, field


@pytest.mark.parametrize("case_id,tariff,session,policy,expected", CASES, ids=[c[0] for c in CASES])
def test_reference_matches_spec_example(case_id, tariff, session, policy, expected):
    _check(price_session(tariff, session, policy), expected)


@pytest.mark.parametrize("case_id,tariff,session,policy,expected", CASES, ids=[c[0] for c in CASES])
def test_kernel_matches_spec_example_and_reference(case_id, tariff, session, policy, expected):
    kernel = price_sessions([tariff], [session], policy=policy)[0]
    _check(kernel, expected)
    assert kernel == price_session(tariff, session, policy)  # totals, taxes and every breakdown row


def test_whole_conformance_suite_in_one_kernel_batch():
    """All examples priced in a single kernel call give the same results as one by one."""
    by_policy = {}
    for case in CASES:
        by_policy.setdefault(case[3], []).append(case)
    for policy, group in by_policy.items():
        results = price_sessions([c[1] for c in group], [c[2] for c in group], list(range(len(group))), policy)
        for case, result in zip(group, results):
            _check(result, case[4])


def test_breakdown_of_complex_monday_names_elements_and_steps():
    case = next(c for c in CASES if c[0] == "13a_complex_monday")
    rows = price_sessions([case[1]], [case[2]])[0].breakdown
    summary = [(r.period_index, r.dimension, r.element_index, r.raw_volume, r.billed_volume, r.step_volume) for r in rows]
    assert summary == [
        (0, "FLAT", 0, Decimal(1), Decimal(1), Decimal(0)),
        (0, "TIME", 1, Decimal("2.75"), Decimal("2.75"), Decimal(0)),
        (1, "PARKING_TIME", 4, Decimal("0.7"), Decimal("0.75"), Decimal("0.05")),
    ]
    assert [r.excl_vat for r in rows] == [Decimal("2.5"), Decimal("2.75"), Decimal("3.75")]
