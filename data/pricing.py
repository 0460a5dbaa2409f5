"""The CPOs' own price calculation for the tariffs they apply (what their CDRs and session records claim).

Exact Decimal arithmetic. Each source rounds the way its documents show: OCPI per component half-up to cents
excl. VAT, VAT added per component; the platform per breakdown line on the gross price; Eevion on the session
total. Only the tariffs in `data.tariffs.ASSIGNED` are priced here: the engine reprices everything itself.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
UNIT5 = Decimal("0.00001")
KWH = Decimal(1000)


def money(value: Decimal) -> Decimal:
    """Round half-up to cents."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _ceil_steps(seconds: int, step: int) -> int:
    return -(-seconds // step) * step


def ocpi_totals(tariff: dict[str, Any], energy_wh: int, charging_s: int, parking_s: int) -> dict[str, Decimal]:
    """OCPI CDR cost totals for a single-element tariff: keys `<dimension>_excl`/`_incl` and `total_*`."""
    out = {k: Decimal(0) for k in ("fixed_excl", "fixed_incl", "energy_excl", "energy_incl", "time_excl",
                                   "time_incl", "parking_excl", "parking_incl")}
    for pc in tariff["elements"][0]["price_components"]:
        price = Decimal(str(pc["price"]))
        vat = Decimal(str(pc.get("vat", 0))) / 100
        step = int(pc["step_size"])
        kind = pc["type"]
        if kind == "ENERGY":
            volume = Decimal(_ceil_steps(energy_wh, step)) / KWH
            key = "energy"
        elif kind == "TIME":
            volume = Decimal(_ceil_steps(charging_s, step)) / 3600
            key = "time"
        elif kind == "PARKING_TIME":
            volume = Decimal(_ceil_steps(parking_s, step)) / 3600
            key = "parking"
        else:  # FLAT
            volume = Decimal(1)
            key = "fixed"
        excl = money(volume * price)
        out[f"{key}_excl"] += excl
        out[f"{key}_incl"] += money(excl * (1 + vat))
    out["total_excl"] = out["fixed_excl"] + out["energy_excl"] + out["time_excl"] + out["parking_excl"]
    out["total_incl"] = out["fixed_incl"] + out["energy_incl"] + out["time_incl"] + out["parking_incl"]
    return out


def _line(kind: str, unit: str, price: Decimal, quantity: Decimal, currency: str, tax: int) -> dict[str, Any]:
    rate = 1 + Decimal(tax) / 100
    gross = money(price * quantity)
    return {
        "type": kind,
        "currency": currency,
        "unit": unit,
        "pricePerUnit": {"withTax": float(price), "withoutTax": float((price / rate).quantize(UNIT5, ROUND_HALF_UP))},
        "quantity": float(quantity) if quantity != quantity.to_integral_value() else int(quantity),
        "price": {"withTax": float(gross), "withoutTax": float(money(gross / rate))},
        "taxPercentage": tax,
    }


def platform_breakdown(tariff: dict[str, Any], energy_wh: int, charging_s: int, idle_s: int, currency: str,
                       tax: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Platform `duration+energy` price lines: (charging-period lines, idle-period lines), gross prices."""
    p = tariff["pricing"]
    charging: list[dict[str, Any]] = []
    idle: list[dict[str, Any]] = []
    kwh = Decimal(energy_wh) / KWH
    duration_min = (charging_s + idle_s) / 60
    fee = Decimal(str(p.get("connectionFee") or 0))
    if fee and duration_min >= p.get("connectionFeeMinimumSessionDuration", 0) and kwh >= Decimal(
            str(p.get("connectionFeeMinimumSessionEnergy", 0))):
        charging.append(_line("connection", "session", fee, Decimal(1), currency, tax))
    charging.append(_line("energy", "kwh", Decimal(str(p["pricePerKwh"])), kwh, currency, tax))
    per_period = Decimal(str(p.get("pricePerPeriod") or 0))
    if per_period:
        blocks = -(-charging_s // (60 * int(p["pricePeriodInMinutes"])))
        charging.append(_line("charging_time", "minute", per_period, Decimal(blocks), currency, tax))
    idle_fee = Decimal(str(p.get("idleFeePerMinute") or 0))
    billable_idle = max(0, idle_s - 60 * int(p.get("idleFeeGracePeriodMinutes") or 0))
    if idle_fee and billable_idle:
        idle.append(_line("idle_time", "minute", idle_fee, Decimal(-(-billable_idle // 60)), currency, tax))
    return charging, idle


def sum_lines(lines: list[dict[str, Any]]) -> dict[str, float]:
    """`{withTax, withoutTax}` total of breakdown lines (sums of the rounded lines)."""
    gross = sum((Decimal(str(x["price"]["withTax"])) for x in lines), Decimal(0))
    net = sum((Decimal(str(x["price"]["withoutTax"])) for x in lines), Decimal(0))
    return {"withTax": float(gross), "withoutTax": float(net)}


def eevion_cost(tariff: dict[str, Any], energy_wh: int, idle_s: int, tax: int) -> tuple[Decimal, Decimal]:
    """Eevion `kwh` tariff: (cost incl. taxes, cost before taxes); idle fee pro rata per second after grace."""
    cost = Decimal(energy_wh) / KWH * Decimal(str(tariff["price"]))
    idle_fee = tariff.get("idleFee")
    if idle_fee and idle_fee.get("isActive"):
        billable = max(0, idle_s - 60 * int(idle_fee.get("gracePeriodMinutes", 0)))
        cost += Decimal(billable) / 3600 * Decimal(str(idle_fee["price"]))
    gross = money(cost)
    return gross, money(gross / (1 + Decimal(tax) / 100))


# --- What the tariff engine must compute from what each source delivers --------------------------------------
# The sources above round per line to the cent; the engine carries exact line amounts and reports 4 decimals
# (half-up) per OCPI dimension. These give the engine's expected totals for a session, so the end-to-end test
# can hold `priced_sessions` to them (and the reconciliation explains the gap to the source's own figures).
UNIT4 = Decimal("0.0001")
DIMENSIONS = ("energy", "time", "parking", "fixed")


def _engine_totals(excl: dict[str, Decimal], rate_of: dict[str, Decimal], gross: bool) -> dict[str, str]:
    """Per dimension and in total, excl. and incl. VAT at 4 decimals; `gross`: the amounts include the tax."""
    out: dict[str, Decimal] = {}
    for name in DIMENSIONS:
        amount, rate = excl.get(name, Decimal(0)), rate_of.get(name, Decimal(0))
        if gross:
            out[f"{name}_excl"], out[f"{name}_incl"] = amount / (1 + rate / 100), amount
        else:
            out[f"{name}_excl"], out[f"{name}_incl"] = amount, amount * (1 + rate / 100)
    out["total_excl"] = sum((out[f"{n}_excl"] for n in DIMENSIONS), Decimal(0))
    out["total_incl"] = sum((out[f"{n}_incl"] for n in DIMENSIONS), Decimal(0))
    return {k: str(v.quantize(UNIT4, rounding=ROUND_HALF_UP)) for k, v in out.items()}


def engine_ocpi(tariff: dict[str, Any], energy_wh: int, charging_s: int, parking_s: int) -> dict[str, str]:
    """Engine totals of a session under a single-element OCPI tariff (prices excl. VAT, step_size per dimension)."""
    excl: dict[str, Decimal] = {}
    rates: dict[str, Decimal] = {}
    for pc in tariff["elements"][0]["price_components"]:
        price, step, kind = Decimal(str(pc["price"])), int(pc["step_size"]), pc["type"]
        if kind == "ENERGY":
            key, volume = "energy", Decimal(_ceil_steps(energy_wh, step)) / KWH
        elif kind == "TIME":
            key, volume = "time", Decimal(_ceil_steps(charging_s, step)) / 3600 if charging_s else Decimal(0)
        elif kind == "PARKING_TIME":
            key, volume = "parking", Decimal(_ceil_steps(parking_s, step)) / 3600 if parking_s else Decimal(0)
        else:
            key, volume = "fixed", Decimal(1)
        excl[key] = excl.get(key, Decimal(0)) + volume * price
        rates[key] = Decimal(str(pc.get("vat", 0)))
    return _engine_totals(excl, rates, gross=False)


def engine_platform(tariff: dict[str, Any], energy_wh: int, charging_s: int, idle_s: int, tax: int) -> dict[str, str]:
    """Engine totals of a platform `duration+energy` session: gross prices split at the record's tax rate;
    connection fee = fixed, energy, duration blocks = time, idle minutes after the grace = parking."""
    p = tariff["pricing"]
    kwh = Decimal(energy_wh) / KWH
    gross: dict[str, Decimal] = {"energy": kwh * Decimal(str(p["pricePerKwh"]))}
    fee = Decimal(str(p.get("connectionFee") or 0))
    if fee and (charging_s + idle_s) / 60 >= p.get("connectionFeeMinimumSessionDuration", 0) and kwh >= Decimal(
            str(p.get("connectionFeeMinimumSessionEnergy", 0))):
        gross["fixed"] = fee
    per_period = Decimal(str(p.get("pricePerPeriod") or 0))
    if per_period and charging_s:
        gross["time"] = per_period * -(-charging_s // (60 * int(p["pricePeriodInMinutes"])))
    billable_idle = max(0, idle_s - 60 * int(p.get("idleFeeGracePeriodMinutes") or 0))
    if p.get("idleFeePerMinute") and billable_idle:
        gross["parking"] = Decimal(str(p["idleFeePerMinute"])) * -(-billable_idle // 60)
    return _engine_totals(gross, {n: Decimal(tax) for n in DIMENSIONS}, gross=True)


def engine_eevion(tariff: dict[str, Any], energy_wh: int, tax: int) -> dict[str, str]:
    """Engine totals of an Eevion `kwh` session: the session reports no idle time, so only energy is priced
    (gross, split at the session's tax)."""
    gross = {"energy": Decimal(energy_wh) / KWH * Decimal(str(tariff["price"]))}
    return _engine_totals(gross, {"energy": Decimal(tax)}, gross=True)
