"""Pure rules: value/unit normalisation and charger clock repair."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from assets.ingest.ocpp.clock import RepairedTime, TimeRejection, repair_timestamp
from assets.ingest.ocpp.units import UnitProblem, normalise_value

RECEIVED = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "unit", "multiplier", "measurand", "protocol", "expected"),
    [
        ("1234.5", "Wh", None, "Energy.Active.Import.Register", "ocpp1.6", (1234.5, "Wh")),
        ("12.3456", "kWh", None, "Energy.Active.Import.Register", "ocpp1.6", (12345.6, "Wh")),
        ("7", None, None, "Energy.Active.Import.Register", "ocpp1.6", (7.0, "Wh")),  # default unit
        ("11", "kW", None, "Power.Active.Import", "ocpp1.6", (11000.0, "W")),
        (12.5, "kWh", 0, "Energy.Active.Import.Register", "ocpp2.0.1", (12500.0, "Wh")),
        (22, "W", 3, "Power.Active.Import", "ocpp2.0.1", (22000.0, "W")),
        (1234, "Wh", -1, "Energy.Active.Import.Register", "ocpp2.0.1", (123.4, "Wh")),
        (80, "Percent", None, "SoC", "ocpp2.0.1", (80.0, "%")),
        (16, None, None, "Current.Import", "ocpp2.0.1", (16.0, "A")),
    ],
)
def test_values_are_normalised(value, unit, multiplier, measurand, protocol, expected):
    assert normalise_value(value, unit, multiplier, measurand, protocol) == expected


@pytest.mark.parametrize(
    ("value", "unit", "multiplier", "protocol", "code"),
    [
        ("12,5", "Wh", None, "ocpp1.6", "NON_NUMERIC_VALUE"),
        ("nan", "Wh", None, "ocpp1.6", "NON_NUMERIC_VALUE"),
        ("5", "MWh", None, "ocpp1.6", "UNKNOWN_UNIT"),
        ("5", "Wh", None, "ocpp2.0.1", "NON_NUMERIC_VALUE"),  # 2.0.1 values are numbers
        (5, "Wh", 1.5, "ocpp2.0.1", "INVALID_MULTIPLIER"),
    ],
)
def test_unusable_values_have_reason_codes(value, unit, multiplier, protocol, code):
    with pytest.raises(UnitProblem) as problem:
        normalise_value(value, unit, multiplier, "Energy.Active.Import.Register", protocol)
    assert problem.value.reason_code == code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-20T11:50:00Z", RepairedTime(datetime(2026, 11, 20, 11, 50, tzinfo=UTC), None)),
        ("2026-11-20T21:50:00+10:00", RepairedTime(datetime(2026, 11, 20, 11, 50, tzinfo=UTC), None)),
        ("2026-11-20T12:03:00Z", RepairedTime(datetime(2026, 11, 20, 12, 3, tzinfo=UTC), None)),  # small skew
        ("1970-01-01T00:00:10Z", RepairedTime(RECEIVED, "clock_not_set")),
        # Growatt-style local time (+10:00) written with Z: ten hours "in the future".
        ("2026-11-20T21:59:30Z", RepairedTime(datetime(2026, 11, 20, 11, 59, 30, tzinfo=UTC), "local_time_marked_utc")),
        ("2026-11-20T13:00:00.500Z", RepairedTime(datetime(2026, 11, 20, 12, 0, 0, 500000, tzinfo=UTC),
                                                  "local_time_marked_utc")),
        ("2026-11-20T11:00:00", RepairedTime(datetime(2026, 11, 20, 11, 0, tzinfo=UTC), "naive_timestamp_utc")),
        # A clock 37 minutes fast (no zone offset): the receive time is the best bound.
        ("2026-11-20T12:37:00Z", RepairedTime(RECEIVED, "clock_ahead")),
    ],
)
def test_clock_rules(raw, expected):
    assert repair_timestamp(raw, RECEIVED) == expected


@pytest.mark.parametrize(("raw", "code"), [("yesterday", "INVALID_TIMESTAMP"), (None, "INVALID_TIMESTAMP"),
                                           ("2026-11-22T12:00:00Z", "FUTURE_TIMESTAMP")])
def test_unrepairable_timestamps_are_rejected(raw, code):
    result = repair_timestamp(raw, RECEIVED)
    assert isinstance(result, TimeRejection) and result.reason_code == code
