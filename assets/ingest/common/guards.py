"""Value guards shared by every parser: one rule in one place, each raising `Rejected` with a stable code.

| guard | code(s) | rule |
|---|---|---|
| `number` | INVALID_VALUE | a JSON number (or numeric text), finite, as exact Decimal (never bool, never NaN/inf) |
| `bounded` | VALUE_OUT_OF_RANGE | inside a `Range` (absurd values such as 1e308 kWh never reach pricing) |
| `energy_wh`, `power_w`, `duration_s` | NEGATIVE_ENERGY, NEGATIVE_DURATION, VALUE_OUT_OF_RANGE | the physical ranges below |
| `money`, `unit_price`, `exact` | PRECISION_LOSS, VALUE_OUT_OF_RANGE | fits DECIMAL(18,4) / DECIMAL(18,6) / DECIMAL(18,s) exactly (polars would null or round it silently) |
| `timestamp`, `epoch_ms` | INVALID_TIMESTAMP, TIMESTAMP_OUT_OF_RANGE | ISO 8601 / epoch milliseconds inside the `TimeWindow` |
| `currency` | INVALID_CURRENCY | an active ISO 4217 code (pycountry's list; XTS/XXX excluded) |
| `obj`, `array`, `text` | INVALID_VALUE | the field has the JSON type the parser is about to use (`.get` on a string never happens) |

Ranges (per record): energy 0 … 10 MWh, power 0 … 10 MW, durations 0 … 31 days. Timestamps: from
`CHARGELEDGER_EARLIEST_TIMESTAMP` (default 2000-01-01) to the landing date plus
`CHARGELEDGER_MAX_DAYS_AHEAD` (default 31) days: nothing is reported long before it happened (a month
of slack because API fetchers land "now" into the partition they run for, e.g. in a backfill).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import pycountry

from assets.quarantine import Rejected

UTC = dt.timezone.utc


@dataclass(frozen=True)
class Range:
    """Inclusive bounds of a quantity, with its unit for messages."""

    low: Decimal
    high: Decimal
    unit: str


ENERGY_WH = Range(Decimal(0), Decimal(10_000_000), "Wh")
POWER_W = Range(Decimal(0), Decimal(10_000_000), "W")
DURATION_S = Range(Decimal(0), Decimal(31 * 86_400), "s")
# a count of things (sessions, customers) that fits Int64
COUNT = Range(Decimal(0), Decimal(2**63 - 1), "")


def number(value: Any, field: str) -> Decimal:
    """A finite JSON number (int, float or numeric string) as exact Decimal (via its text), else INVALID_VALUE."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise Rejected("MISSING_FIELD" if value is None else "INVALID_VALUE", f"{field} {_show(value)} is not a number")
    else:
        try:
            result = Decimal(value.strip()) if isinstance(value, str) else Decimal(repr(value) if isinstance(value, float) else value)
        except (InvalidOperation, ValueError) as exc:
            raise Rejected("INVALID_VALUE", f"{field} {_show(value)} is not a number") from exc
    if not result.is_finite():
        raise Rejected("INVALID_VALUE", f"{field} {_show(value)} is not a finite number")
    return result


def bounded(value: Decimal, bounds: Range, field: str) -> Decimal:
    """`value` when inside `bounds`, else VALUE_OUT_OF_RANGE."""
    if not bounds.low <= value <= bounds.high:
        raise Rejected("VALUE_OUT_OF_RANGE", f"{field} {_show(value)} {bounds.unit} is outside {bounds.low}…{bounds.high} {bounds.unit}")
    return value


def energy_wh(value: Decimal, field: str) -> Decimal:
    """An energy in Wh: negative is NEGATIVE_ENERGY, beyond 10 MWh VALUE_OUT_OF_RANGE."""
    if value < 0:
        raise Rejected("NEGATIVE_ENERGY", f"{field} {value} Wh is negative")
    return bounded(value, ENERGY_WH, field)


def power_w(value: Decimal, field: str) -> Decimal:
    """A power in W within 0 … 10 MW."""
    return bounded(value, POWER_W, field)


def duration_s(value: Decimal, field: str) -> int:
    """A duration in seconds (rounded half-even to whole seconds): negative is NEGATIVE_DURATION, beyond 31 days out of range."""
    if value < 0:
        raise Rejected("NEGATIVE_DURATION", f"{field} {value} s is negative")
    return int(bounded(value, DURATION_S, field).to_integral_value())


# The first value a DECIMAL(18, scale) column cannot hold, per scale: a Decimal power per amount read was about
# 5 % of `platform_sessions`.
_DECIMAL_LIMITS = tuple(Decimal(10) ** (18 - scale) for scale in range(19))


def exact(value: Any, field: str, scale: int) -> Decimal | None:
    """A number for a DECIMAL(18, scale) column, exactly (None stays None): more decimals is PRECISION_LOSS,
    more integer digits than the column holds VALUE_OUT_OF_RANGE."""
    if value is None:
        return None
    result = number(value, field)
    if result.as_tuple().exponent < -scale:
        # the DECIMAL column would round it: refuse instead of changing money
        raise Rejected("PRECISION_LOSS", f"{field} {_show(value)} has more than {scale} decimal places")
    if abs(result) >= _DECIMAL_LIMITS[scale]:
        raise Rejected("VALUE_OUT_OF_RANGE", f"{field} {_show(value)} does not fit DECIMAL(18,{scale})")
    return result


def money(value: Any, field: str) -> Decimal | None:
    """An amount for a DECIMAL(18,4) column, exact (None stays None)."""
    return exact(value, field, 4)


def unit_price(value: Any, field: str) -> Decimal | None:
    """A unit price or quantity for a DECIMAL(18,6) column, exact (None stays None)."""
    return exact(value, field, 6)


@dataclass(frozen=True)
class TimeWindow:
    """The instants a record may carry: [earliest, latest]."""

    earliest: dt.datetime
    latest: dt.datetime

    def check(self, moment: dt.datetime, field: str) -> dt.datetime:
        """`moment` when inside the window, else TIMESTAMP_OUT_OF_RANGE."""
        if not self.earliest <= moment <= self.latest:
            raise Rejected("TIMESTAMP_OUT_OF_RANGE", f"{field} {moment.isoformat()} is outside "
                                                     f"{self.earliest.isoformat()} … {self.latest.isoformat()}")
        return moment


def earliest_timestamp() -> dt.datetime:
    """`CHARGELEDGER_EARLIEST_TIMESTAMP` (ISO date or instant), default 2000-01-01T00:00Z."""
    text = os.environ.get("CHARGELEDGER_EARLIEST_TIMESTAMP", "2000-01-01")
    moment = dt.datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def max_days_ahead() -> int:
    """`CHARGELEDGER_MAX_DAYS_AHEAD`: how far past its landing date a record's instants may lie (default 31)."""
    return int(os.environ.get("CHARGELEDGER_MAX_DAYS_AHEAD", "31"))


def window_for(landing_date: dt.date | str) -> TimeWindow:
    """The window of a landing day: configured earliest … end of the landing date + max days ahead."""
    day = dt.date.fromisoformat(landing_date) if isinstance(landing_date, str) else landing_date
    latest = dt.datetime.combine(day + dt.timedelta(days=max_days_ahead() + 1), dt.time(), tzinfo=UTC)
    return TimeWindow(earliest_timestamp(), latest)


# For pure calls without a landing day (tests, CLIs): anything from 2000 to 2100.
DEFAULT_WINDOW = TimeWindow(dt.datetime(2000, 1, 1, tzinfo=UTC), dt.datetime(2100, 1, 1, tzinfo=UTC))


def parse_instant(value: Any, field: str) -> dt.datetime:
    """An ISO 8601 date-time as aware UTC (naive = UTC, as OCPI 2.2.1 allows), else INVALID_TIMESTAMP.

    Far-away years (1, 9999) are parsed without arithmetic that could overflow; the window rejects them.
    """
    if not isinstance(value, str) or not value:
        raise Rejected("MISSING_FIELD" if value in (None, "") else "INVALID_TIMESTAMP", f"{field} {_show(value)} is not a timestamp")
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise Rejected("INVALID_TIMESTAMP", f"{field} {_show(value)} is not an ISO 8601 date-time") from exc


def timestamp(value: Any, field: str, window: TimeWindow = DEFAULT_WINDOW) -> dt.datetime:
    """An ISO 8601 date-time inside the window."""
    return window.check(parse_instant(value, field), field)


def optional_timestamp(value: Any, field: str, window: TimeWindow = DEFAULT_WINDOW) -> dt.datetime | None:
    """Like `timestamp`; None or "" stays None."""
    return None if value in (None, "") else timestamp(value, field, window)


def epoch_ms(value: Any, field: str, window: TimeWindow = DEFAULT_WINDOW) -> dt.datetime:
    """Epoch milliseconds (an integer) inside the window; huge values never reach datetime arithmetic."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise Rejected("INVALID_TIMESTAMP", f"{field} {_show(value)} is not epoch milliseconds")
    low, high = (int(w.timestamp() * 1000) for w in (window.earliest, window.latest))
    if not low <= value <= high:
        raise Rejected("TIMESTAMP_OUT_OF_RANGE", f"{field} {_show(value)} ms is outside "
                                                 f"{window.earliest.isoformat()} … {window.latest.isoformat()}")
    return dt.datetime.fromtimestamp(value / 1000, tz=UTC)


# Codes the ISO list carries that are no currency to settle in: XTS (testing), XXX (no currency).
_NOT_SETTLEMENT = {"XTS", "XXX"}
ISO_4217 = frozenset(c.alpha_3 for c in pycountry.currencies) - _NOT_SETTLEMENT


def currency(value: Any, field: str = "currency") -> str:
    """An ISO 4217 code, else INVALID_CURRENCY."""
    if not isinstance(value, str) or value not in ISO_4217:
        raise Rejected("INVALID_CURRENCY", f"{field} {_show(value)} is not an ISO 4217 currency code")
    return value


def obj(value: Any, field: str, *, required: bool = False) -> dict:
    """A JSON object ({} for a missing optional one); any other type is INVALID_VALUE."""
    if value is None:
        if required:
            raise Rejected("MISSING_FIELD", f"field {field} is missing")
        return {}
    if not isinstance(value, dict):
        raise Rejected("INVALID_VALUE", f"{field} is a {_json_type(value)}, not an object")
    return value


def array(value: Any, field: str) -> list:
    """A JSON array ([] for a missing one); any other type is INVALID_VALUE."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Rejected("INVALID_VALUE", f"{field} is a {_json_type(value)}, not an array")
    return value


def text(value: Any, field: str) -> str | None:
    """A scalar as text (None stays None); an object or array is INVALID_VALUE."""
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise Rejected("INVALID_VALUE", f"{field} is a {_json_type(value)}, not a string")
    return str(value)


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    """A value for a reason text, cut short (a 5,000-digit number must not fill the quarantine)."""
    try:
        shown = repr(value)
    except ValueError:  # an integer beyond Python's printable digit limit
        return f"<a number of about {value.bit_length() * 3 // 10} digits>" if isinstance(value, int) else "<unprintable>"
    return shown if len(shown) <= 80 else shown[:77] + "..."


def require(obj: Any, *path: str) -> Any:
    """The value at `path` (nested object keys), or MISSING_FIELD; a step through a non-object is INVALID_VALUE."""
    value: Any = obj
    for depth, key in enumerate(path):
        if not isinstance(value, dict):
            where = ".".join(path[:depth]) or "record"
            raise Rejected("INVALID_VALUE", f"{where} is a {_json_type(value)}, not an object")
        value = value.get(key)
        if value in (None, ""):
            raise Rejected("MISSING_FIELD", f"field {'.'.join(path)} is missing")
    return value


def integer(value: Any, field: str) -> int:
    """A whole number (JSON integer or decimal digits as text), else INVALID_VALUE."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.lstrip("-").isdigit():
        return int(value)
    raise Rejected("INVALID_VALUE", f"{field} {_show(value)} is not an integer")


def optional_integer(value: Any, field: str) -> int | None:
    """Like `integer`; None stays None."""
    return None if value is None else integer(value, field)


def local_date(end: dt.datetime | None, zone: str) -> dt.date | None:
    """The settlement date: local date of the end in the zone (None while the session runs)."""
    return end.astimezone(ZoneInfo(zone)).date() if end else None


def span(start_value: Any, end_value: Any, start_field: str, end_field: str, window: TimeWindow = DEFAULT_WINDOW,
         *, end_required: bool = True) -> tuple[dt.datetime, dt.datetime | None]:
    """(start, end) of a session or charge inside the window; an end before the start is END_BEFORE_START.
    With `end_required=False` a missing end (a running session) is None."""
    start = timestamp(start_value, start_field, window)
    end = timestamp(end_value, end_field, window) if end_required else optional_timestamp(end_value, end_field, window)
    if end is not None and end < start:
        raise Rejected("END_BEFORE_START", f"{end_field} {end.isoformat()} is before {start_field} {start.isoformat()}")
    return start, end
