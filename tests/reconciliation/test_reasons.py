"""The reason rule (`reason_for`), case by case, each figure computed by hand."""

from decimal import Decimal as D

import pytest

from assets.reconciliation.reasons import REASONS, Comparison, reason_for

TOL = D("0.01")


def test_a_session_without_a_tariff_is_the_sources_missing_tariff_not_a_mismatch():
    assert reason_for(Comparison(ours=None, theirs=D("12.00"), tolerance=TOL, error_code="NO_TARIFF")) == \
        "SOURCE_HAS_NO_TARIFF"


def test_credit_cdrs_and_engine_errors_are_named():
    assert reason_for(Comparison(ours=None, theirs=D("-12.00"), tolerance=TOL, error_code="CREDIT_CDR")) == \
        "CREDIT_REVERSAL"
    assert reason_for(Comparison(ours=None, theirs=D("12.00"), tolerance=TOL, error_code="NO_PERIODS")) == "NOT_PRICED"


def test_nothing_reported_is_not_a_difference():
    assert reason_for(Comparison(ours=D("3.1000"), theirs=None, tolerance=TOL)) == "NOT_REPORTED"


def test_currency_comes_before_the_amounts():
    # 10.00 EUR against 10.00 GBP is not an agreement.
    assert reason_for(Comparison(ours=D("10"), theirs=D("10"), tolerance=TOL, same_currency=False)) == "CURRENCY"


@pytest.mark.parametrize("ours, theirs, expected", [
    (D("39.9775"), D("39.98"), "AGREES"),        # |-0.0025| <= 0.01
    (D("10.0100"), D("10.00"), "AGREES"),        # exactly the tolerance
    (D("10.0101"), D("10.00"), "ROUNDING"),      # 0.0101 > 0.01, within 1 cent x 2 lines
])
def test_tolerance_and_rounding(ours, theirs, expected):
    assert reason_for(Comparison(ours=ours, theirs=theirs, tolerance=TOL, priced_lines=2)) == expected


def test_rounding_allowance_is_one_cent_per_line():
    # GB-VLT-AC-STD: energy 0.375 x 36.65 kWh and parking; the CDR rounds each line: -0.0192 over two lines.
    two_lines = Comparison(ours=D("16.4925"), theirs=D("16.5117"), tolerance=TOL, priced_lines=2)
    one_line = Comparison(ours=D("16.4925"), theirs=D("16.5117"), tolerance=TOL, priced_lines=1)
    assert reason_for(two_lines) == "ROUNDING"
    assert reason_for(one_line) == "CALCULATION_DIFFERS"


def test_idle_fee_the_source_does_not_report():
    # Eevion: 0.35 CAD/kWh x 12.000 kWh = 4.20 priced; the source charged 4.20 + 45 min x 1.20/h = 5.10.
    idle = Comparison(ours=D("4.2000"), theirs=D("5.10"), tolerance=TOL, idle_unknown=True)
    assert reason_for(idle) == "IDLE_NOT_REPORTED"
    # Charging less than we do is not an unreported idle fee.
    assert reason_for(Comparison(ours=D("5.10"), theirs=D("4.20"), tolerance=TOL, idle_unknown=True)) == \
        "CALCULATION_DIFFERS"


def test_data_causes_win_over_rounding_in_the_documented_order():
    base = dict(ours=D("19.88"), theirs=D("39.98"), tolerance=TOL, idle_unknown=True)
    assert reason_for(Comparison(**base, tariff_differs=True, energy_differs=True)) == "TARIFF_DIFFERS"
    assert reason_for(Comparison(**base, energy_differs=True, duration_differs=True)) == "ENERGY_DIFFERS"
    assert reason_for(Comparison(**base, duration_differs=True)) == "DURATION_DIFFERS"
    assert reason_for(Comparison(**base)) == "IDLE_NOT_REPORTED"


def test_quantities_of_linked_records():
    # OCPP register 36 650 Wh against the CDR's 36 648 Wh: 2 Wh beyond the 1 Wh tolerance.
    energy = Comparison(ours=D(36650), theirs=D(36648), tolerance=D(1), energy_differs=True)
    same = Comparison(ours=D(36650), theirs=D(36649), tolerance=D(1), energy_differs=True)
    duration = Comparison(ours=D(27390), theirs=D(27300), tolerance=D(60), duration_differs=True)
    assert (reason_for(energy), reason_for(same), reason_for(duration)) == ("ENERGY_DIFFERS", "AGREES",
                                                                           "DURATION_DIFFERS")


def test_every_reason_is_documented():
    assert all(REASONS[code] for code in REASONS)
    assert "MISMATCH" not in REASONS
