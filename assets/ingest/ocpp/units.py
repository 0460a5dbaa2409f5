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

import polars as pl

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


# -- the same rules as column expressions (the columnar extraction, ``reading_columns``) ------------------

# Powers of ten by exponent: ``unit factor * 10 ** multiplier`` as one decimal exponent.
UNIT_EXPONENTS: dict[str, int] = {unit: round(math.log10(factor)) for unit, (_stored, factor) in UNIT_CONVERSIONS.items()}
# A decimal text ``-ddd.ddd`` of at most 15 digits: its digits are an exact integer in a float.
DECIMAL_TEXT = r"^(-?)([0-9]{1,15})(?:\.([0-9]{1,15}))?$"
_EXACT_POWERS = {k: 10.0**k for k in range(0, 23)}
# Beyond these magnitudes the float product of ``normalise_value`` may be more than 0.5e-6 off the decimal
# result, so its rounding cannot be reproduced from the decimal digits: such values take the row path.
_ROUNDED_MAX = 1e8
_INTEGER_MAX = 2.0**53


def default_unit_expr(measurand: pl.Expr) -> pl.Expr:
    """``default_unit`` as an expression."""
    rules = [("Energy.Reactive", "varh"), ("Energy", "Wh"), ("Power.Reactive", "var"), ("Power.Factor", "Percent"),
             ("Power", "W"), ("Current", "A")]
    exact = [("Voltage", "V"), ("Frequency", "Hz"), ("Temperature", "Celsius"), ("SoC", "Percent")]
    expr = pl.when(pl.lit(False)).then(pl.lit(None, pl.String()))
    for prefix, unit in rules:
        expr = expr.when(measurand.str.starts_with(prefix)).then(pl.lit(unit))
    for name, unit in exact:
        expr = expr.when(measurand == name).then(pl.lit(unit))
    return expr.otherwise(pl.lit("Wh"))


def normalise_value_columns(frame: pl.DataFrame, text: str, unit: str, multiplier: str,
                            measurand: str) -> pl.DataFrame:
    """``normalise_value`` over columns, for values given as decimal text (1.6 strings, 2.0.1 JSON numbers
    without exponent): ``frame`` with ``_value``, ``_stored_unit`` and ``_value_exact``, which is False
    wherever this cannot give exactly what ``normalise_value`` gives (not a plain decimal, unknown unit,
    multiplier out of range, too many digits) so the caller hands the value to the scalar rule.

    ``normalise_value`` rounds ``float(text) * factor * 10 ** multiplier`` to 6 decimals: when the decimal
    result has at most 6 decimals and a magnitude below 1e8, that product is within 0.5e-6 of it, so the
    rounding gives the float nearest to the decimal result, which is ``digits / 10**k`` (or
    ``digits * 10**k``) of exact operands, correctly rounded by IEEE arithmetic.
    """
    unit_name = pl.when(pl.col(unit).is_null() | (pl.col(unit) == "")).then(default_unit_expr(pl.col(measurand))) \
        .otherwise(pl.col(unit))
    frame = frame.with_columns(pl.col(text).str.extract_groups(DECIMAL_TEXT).alias("_dec"), unit_name.alias("_unit_name"))
    dec = pl.col("_dec").struct
    fraction = dec.field("3").fill_null("")
    frame = frame.with_columns(
        (dec.field("1") == "-").alias("_negative"),
        (dec.field("2") + fraction).alias("_digits"),
        fraction.str.len_bytes().cast(pl.Int64()).alias("_decimals"),
        pl.col("_unit_name").replace_strict(list(UNIT_EXPONENTS), list(UNIT_EXPONENTS.values()), default=None,
                                            return_dtype=pl.Int64()).alias("_factor_exp"),
        pl.col(multiplier).fill_null(0).alias("_power"),
    ).drop("_dec")
    frame = frame.with_columns(
        (pl.col("_factor_exp") + pl.col("_power") - pl.col("_decimals")).alias("_exp"),
        pl.when(pl.col("_digits").str.len_bytes() <= 15).then(pl.col("_digits"))
        .cast(pl.Int64(), strict=False).cast(pl.Float64()).alias("_number"),
    )
    exponent = pl.col("_exp")
    frame = frame.with_columns(
        exponent.abs().replace_strict(list(_EXACT_POWERS), list(_EXACT_POWERS.values()), default=None,
                                      return_dtype=pl.Float64()).alias("_scale"))
    frame = frame.with_columns(pl.when(exponent >= 0).then(pl.col("_number") * pl.col("_scale"))
                               .otherwise(pl.col("_number") / pl.col("_scale")).alias("_magnitude"))
    magnitude, power = pl.col("_magnitude"), pl.col("_power")
    exact = (
        magnitude.is_not_null() & power.is_between(-9, 9)
        & (((pl.col("_decimals") == 0) & (power >= 0) & (exponent >= 0) & (magnitude < _INTEGER_MAX))
           | ((exponent >= -6) & (magnitude < _ROUNDED_MAX)))
    )
    return frame.with_columns(
        pl.when(pl.col("_negative")).then(-magnitude).otherwise(magnitude).alias("_value"),
        pl.col("_unit_name").replace_strict(list(UNIT_CONVERSIONS), [stored for stored, _ in UNIT_CONVERSIONS.values()],
                                            default=None, return_dtype=pl.String()).alias("_stored_unit"),
        exact.fill_null(False).alias("_value_exact"),
    ).drop("_unit_name", "_negative", "_digits", "_decimals", "_factor_exp", "_power", "_exp", "_number", "_scale",
           "_magnitude")
