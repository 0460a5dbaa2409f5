"""Money rules of the engine: rounding policies and ISO 4217 currency minor units.

The engine carries line amounts at an internal precision of 1e-9 currency units (half-up, the same in the
Decimal reference and the integer kernels); a `RoundingPolicy` then says how reported amounts are rounded:
the mode (half-up, half-even, up, down) and the stage (round each line before summing, or round the totals).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Literal

RoundingMode = Literal["HALF_UP", "HALF_EVEN", "UP", "DOWN"]
RoundingStage = Literal["TOTAL", "LINE"]

# Internal precision: every line amount is an integer number of nano units (1e-9 of the currency).
INTERNAL_DECIMALS = 9
NANO = 10**INTERNAL_DECIMALS

# Modes as used by Decimal.quantize; UP/DOWN are toward +/- infinity (amounts may be negative in credits).
_DECIMAL_MODES = {"HALF_UP": ROUND_HALF_UP, "HALF_EVEN": ROUND_HALF_EVEN, "UP": ROUND_CEILING, "DOWN": ROUND_FLOOR}
MODE_CODES: dict[str, int] = {"HALF_UP": 0, "HALF_EVEN": 1, "UP": 2, "DOWN": 3}
STAGE_CODES: dict[str, int] = {"TOTAL": 0, "LINE": 1}

# ISO 4217 minor units for active codes whose exponent is not 2 (everything else listed uses 2).
_MINOR_UNITS_NOT_2: dict[str, int] = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0, "RWF": 0,
    "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "CLF": 4, "UYW": 4,
}
_MINOR_UNITS_2 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF "
    "CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD "
    "HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT "
    "MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR "
    "SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU "
    "UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"
).split()
CURRENCY_MINOR_UNITS: dict[str, int] = {**{code: 2 for code in _MINOR_UNITS_2}, **_MINOR_UNITS_NOT_2}


class UnknownCurrencyError(ValueError):
    """The currency code is not an active ISO 4217 code."""


def minor_units(currency: str) -> int:
    """Number of decimals of `currency` (ISO 4217), e.g. EUR 2, JPY 0, BHD 3."""
    try:
        return CURRENCY_MINOR_UNITS[currency]
    except KeyError:
        raise UnknownCurrencyError(f"unknown currency {currency!r} (not an active ISO 4217 code)") from None


@dataclass(frozen=True)
class RoundingPolicy:
    """How reported amounts are rounded.

    `mode`: HALF_UP, HALF_EVEN, UP (toward +inf) or DOWN (toward -inf). `stage`: TOTAL rounds each reported
    total once from the internal sums; LINE rounds every breakdown line first and sums the rounded lines.
    `decimals`: output decimals; None means the currency's minor units. The OCPI default is 4 decimals,
    half-up, at the total stage.
    """

    mode: RoundingMode = "HALF_UP"
    stage: RoundingStage = "TOTAL"
    decimals: int | None = 4

    def __post_init__(self) -> None:
        if self.mode not in MODE_CODES:
            raise ValueError(f"rounding mode: unknown {self.mode!r}")
        if self.stage not in STAGE_CODES:
            raise ValueError(f"rounding stage: unknown {self.stage!r}")
        if self.decimals is not None and not 0 <= self.decimals <= INTERNAL_DECIMALS:
            raise ValueError(f"rounding decimals must be within 0..{INTERNAL_DECIMALS}")

    def output_decimals(self, currency: str) -> int:
        """Decimals of reported amounts in `currency`."""
        return minor_units(currency) if self.decimals is None else self.decimals

    def round_nano(self, amount_nano: int, currency: str) -> int:
        """Round an integer nano amount to the output precision; the result stays in nano units."""
        return round_nano_int(amount_nano, 10 ** (INTERNAL_DECIMALS - self.output_decimals(currency)), self.mode)

    def quantize(self, value: Decimal, currency: str) -> Decimal:
        """Round a Decimal amount to the output precision with this policy's mode."""
        exponent = Decimal(1).scaleb(-self.output_decimals(currency))
        return value.quantize(exponent, rounding=_DECIMAL_MODES[self.mode])


OCPI_ROUNDING = RoundingPolicy()


def round_nano_int(value: int, unit: int, mode: str) -> int:
    """Round integer `value` to a multiple of `unit` (> 0) with `mode`; integer-only, like the kernels."""
    quotient, remainder = divmod(value, unit)  # floor division: remainder in [0, unit)
    if remainder == 0:
        return value
    if mode == "DOWN":
        return quotient * unit
    if mode == "UP":
        return (quotient + 1) * unit
    twice = 2 * remainder
    if twice > unit or (twice == unit and (mode == "HALF_UP" and value >= 0 or mode == "HALF_EVEN" and quotient % 2)):
        return (quotient + 1) * unit
    if twice == unit and mode == "HALF_UP" and value < 0:
        return quotient * unit
    return quotient * unit


def div_round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator (denominator > 0) rounded half away from zero: the internal rounding rule."""
    if numerator >= 0:
        return (2 * numerator + denominator) // (2 * denominator)
    return -((-2 * numerator + denominator) // (2 * denominator))


def nano_to_decimal(value: int) -> Decimal:
    """An integer nano amount as a Decimal in currency units."""
    return Decimal(value).scaleb(-INTERNAL_DECIMALS)


def decimal_to_nano(value: Decimal) -> int:
    """A Decimal amount as integer nano units, half-up (amounts with more than 9 decimals are rounded)."""
    return int((value * NANO).quantize(Decimal(1), rounding=ROUND_HALF_UP))
