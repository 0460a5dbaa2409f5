"""Sampled-value normalisation: OCPP 1.6 string values and 2.0.1 numbers with multipliers -> Wh / W / A / %.

| input unit                   | stored unit | factor |
|------------------------------|-------------|--------|
| Wh, kWh                      | Wh          | 1, 1000 |
| varh, kvarh                  | varh        | 1, 1000 |
| W, kW                        | W           | 1, 1000 |
| var, kvar                    | var         | 1, 1000 |
| VA, kVA                      | VA          | 1, 1000 |
| A, V, Hz, K, Celsius, Fahrenheit | same    | 1 |
| Percent                      | %           | 1 |

2.0.1 values are then multiplied by ``10 ** unitOfMeasure.multiplier``. A missing unit means the
measurand's default (Wh for energy registers, W for power, A for current, V for voltage, % for SoC).
Defaults for absent fields follow the specifications: measurand ``Energy.Active.Import.Register``,
context ``Sample.Periodic``, location ``Outlet``, phase none (the overall value).
"""

from __future__ import annotations

import math

DEFAULT_MEASURAND = "Energy.Active.Import.Register"
DEFAULT_CONTEXT = "Sample.Periodic"
DEFAULT_LOCATION = "Outlet"

UNIT_CONVERSIONS: dict[str, tuple[str, float]] = {
    "Wh": ("Wh", 1.0), "kWh": ("Wh", 1000.0),
    "varh": ("varh", 1.0), "kvarh": ("varh", 1000.0),
    "W": ("W", 1.0), "kW": ("W", 1000.0),
    "var": ("var", 1.0), "kvar": ("var", 1000.0),
    "VA": ("VA", 1.0), "kVA": ("VA", 1000.0),
    "A": ("A", 1.0), "V": ("V", 1.0), "Hz": ("Hz", 1.0),
    "K": ("K", 1.0), "Celsius": ("Celsius", 1.0), "Fahrenheit": ("Fahrenheit", 1.0),
    "Percent": ("%", 1.0),
}


def default_unit(measurand: str) -> str:
    """The unit a sampled value has when the charger omits it."""
    if measurand.startswith("Energy.Reactive"):
        return "varh"
    if measurand.startswith("Energy"):
        return "Wh"
    if measurand.startswith("Power.Reactive"):
        return "var"
    if measurand.startswith("Power.Factor"):
        return "Percent"
    if measurand.startswith("Power"):
        return "W"
    if measurand.startswith("Current"):
        return "A"
    if measurand == "Voltage":
        return "V"
    if measurand == "Frequency":
        return "Hz"
    if measurand == "Temperature":
        return "Celsius"
    if measurand == "SoC":
        return "Percent"
    return "Wh"


class UnitProblem(ValueError):
    """A sampled value that cannot be normalised; ``reason_code`` is the quarantine code."""

    def __init__(self, reason_code: str, reason: str):
        super().__init__(reason)
        self.reason_code = reason_code
        self.reason = reason


def normalise_value(raw_value: object, unit: str | None, multiplier: object, measurand: str,
                    protocol: str) -> tuple[float, str]:
    """(value in the stored unit, stored unit); raises ``UnitProblem`` with a reason code."""
    if protocol == "ocpp1.6":
        # 1.6 sends a decimal string; a few chargers send a bare number, which means the same.
        if isinstance(raw_value, bool) or not isinstance(raw_value, (str, int, float)):
            raise UnitProblem("NON_NUMERIC_VALUE", f"value {raw_value!r} is not a decimal string")
        try:
            number = float(raw_value)
        except ValueError:
            raise UnitProblem("NON_NUMERIC_VALUE", f"value {raw_value!r} is not a decimal number") from None
    else:
        if isinstance(raw_value, bool) or not isinstance(raw_value, (int, float)):
            raise UnitProblem("NON_NUMERIC_VALUE", f"value {raw_value!r} is not a number")
        number = float(raw_value)
    if not math.isfinite(number):
        raise UnitProblem("NON_NUMERIC_VALUE", f"value {raw_value!r} is not finite")
    unit_name = unit if unit else default_unit(measurand)
    if unit_name not in UNIT_CONVERSIONS:
        raise UnitProblem("UNKNOWN_UNIT", f"unit {unit_name!r} is not an OCPP unit of measure")
    stored_unit, factor = UNIT_CONVERSIONS[unit_name]
    if multiplier is None:
        multiplier = 0
    if isinstance(multiplier, bool) or not isinstance(multiplier, int) or not -9 <= multiplier <= 9:
        raise UnitProblem("INVALID_MULTIPLIER", f"multiplier {multiplier!r} is not an integer power of ten")
    # Round to 1e-6 so that e.g. 2.0034 kWh becomes exactly 2003.4 Wh, not 2003.3999999.
    return round(number * factor * (10.0 ** multiplier), 6), stored_unit
