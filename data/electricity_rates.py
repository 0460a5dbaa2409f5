"""The demo fleet's electricity supply rates (seed 001 `electricity-rates/v2.0`), one per operator.

A rate is what the operator pays its supplier per kWh, tax included (the platform requires gross prices;
`taxPercentage` only says which tax is in them). Price periods are local wall-clock "HH:MM" slots, per
week day (`any` here: every day alike) or per calendar date; `endsAt` "00:00" is the end of the day and a
slot whose end is before its start wraps over midnight. Every slot edge sits on the half hour, the
coarsest clock-aligned interval grid the pipeline prices on, so one price holds for a whole interval.

`operatorId` is the fleet's operator code (`GB-VLT`), not the platform's integer tenant id: the pipeline
matches a rate to a session by comparing the rate's operator with the session's `operator_id`, which is
that code for every source. Values are plausible 2026 contract prices, fixed so the demo is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# The date on which NL-GRX's supplier gives a midday discount (a sunny Sunday with surplus solar). It is
# the day Europe/Amsterdam leaves summer time, inside the default demo window, so the date entry's
# precedence over the week-day table is exercised on real sessions.
NL_SOLAR_DAY = "2026-10-25"


@dataclass(frozen=True)
class RateSlot:
    """One price period: local [starts_at, ends_at) in "HH:MM" and its tax-inclusive price per kWh."""

    starts_at: str
    ends_at: str
    price: Decimal


@dataclass(frozen=True)
class DemoRate:
    """One operator's electricity rate and its price periods."""

    rate_id: int
    operator_id: str
    name: str
    currency: str
    default_price: Decimal
    tax_percentage: Decimal
    utility_id: int | None = None
    week_days: dict[str, tuple[RateSlot, ...]] = field(default_factory=dict)
    dates: dict[str, tuple[RateSlot, ...]] = field(default_factory=dict)

    def api_rate(self) -> dict[str, Any]:
        """The rate object as `GET electricity-rates/v2.0` lists it (prices as JSON numbers)."""
        return {"id": self.rate_id, "operatorId": self.operator_id, "name": self.name, "type": "admin_defined",
                "utilityId": self.utility_id, "defaultPrice": float(self.default_price),
                "taxPercentage": float(self.tax_percentage)}

    def api_price_periods(self) -> list[dict[str, Any]]:
        """The `GET …/{rate}/price-periods` items: week-day groups first, then date groups, each in key order."""
        groups = [{"weekDay": day, "periods": _slots(slots)} for day, slots in sorted(self.week_days.items())]
        groups += [{"date": day, "periods": _slots(slots)} for day, slots in sorted(self.dates.items())]
        return groups


def _slots(slots: tuple[RateSlot, ...]) -> list[dict[str, Any]]:
    return [{"startsAt": s.starts_at, "endsAt": s.ends_at, "price": float(s.price)} for s in slots]


def _d(text: str) -> Decimal:
    return Decimal(text)


DEMO_RATES: tuple[DemoRate, ...] = (
    # UK business supply with an economy-7 style night: 00:00-07:00 cheap, day rate otherwise; VAT 20 %.
    DemoRate(301, "GB-VLT", "Voltline day/night supply", "GBP", _d("0.28"), _d("20"), utility_id=11,
             week_days={"any": (RateSlot("00:00", "07:00", _d("0.12")),)}),
    # Dutch supply with a cheaper night (23:00-07:00) and a midday solar discount on one date; BTW 21 %.
    DemoRate(302, "NL-GRX", "Gracht grid supply", "EUR", _d("0.30"), _d("21"), utility_id=12,
             week_days={"any": (RateSlot("23:00", "07:00", _d("0.22")),)},
             dates={NL_SOLAR_DAY: (RateSlot("06:00", "16:00", _d("0.15")),)}),
    # Ontario commercial supply at one flat price; HST 13 %.
    DemoRate(303, "CA-MPL", "Maple Plug flat supply", "CAD", _d("0.14"), _d("13")),
    # UK domestic EV tariff for the home chargers: cheap 23:30-05:30 (wraps midnight); domestic VAT 5 %.
    DemoRate(304, "GB-HMC", "HomeCharge EV night supply", "GBP", _d("0.245"), _d("5"), utility_id=13,
             week_days={"any": (RateSlot("23:30", "05:30", _d("0.075")),)}),
)


def rate_for(operator_id: str) -> DemoRate:
    """The demo rate of an operator (KeyError for an operator without one)."""
    for rate in DEMO_RATES:
        if rate.operator_id == operator_id:
            return rate
    raise KeyError(operator_id)
