"""Fast, exact encoding of many numbers, timestamps and `Session` objects into the kernels' integer arrays.

The slow path converts every volume with Decimal arithmetic one value at a time. Here whole columns are
converted at once: a value is multiplied in float64 and rounded half away from zero, which gives the exact
Decimal result unless the scaled value lies within float error of a .5 boundary (or is too large for
float64 to hold its integer part exactly); only those values are recomputed with the very Decimal
expression the slow path uses. So the result is always identical to the slow path, and Decimal work is
only done where floats cannot decide.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from operator import attrgetter
from typing import Callable, Sequence

import numpy as np

from .compile import (
    ERROR_INDEX, NONE, S_ERROR, S_ZONE, SessionBatch, build_zone_table,
)
from .model import Session

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)
_ONE = Decimal(1)
_ZERO = Decimal(0)
_SAFE_MAGNITUDE = 2.0**50  # below this a float64 holds the integer part and the fraction with room to spare
_RELATIVE_ERROR = 1e-12  # far above the ~2.3e-16 relative error of one decimal->float conversion and one product

_PERIOD_FIELDS = attrgetter("start", "energy_kwh", "time_h", "parking_h", "reservation_h", "min_current", "max_current",
                            "min_power", "max_power", "electricity_rate")
ENERGY_FACTOR = 1_000_000  # kWh -> mWh
HOURS_FACTOR = 3_600_000  # h -> ms
MICRO_FACTOR = 1_000_000  # measurements and rates -> micro units


def volume_exact(value: Decimal, factor: int) -> int:
    """The slow path's rule for a summed volume: (0 + value) * factor, half-up to an integer."""
    return int(((_ZERO + value) * factor).quantize(_ONE, rounding=ROUND_HALF_UP))


def product_exact(value: Decimal, factor: int) -> int:
    """The model's rule for a `SessionPeriod` volume (`energy_mwh`, `time_ms`, ...): value * factor, half-up.
    Differs from `volume_exact` only for values with more digits than the Decimal context keeps."""
    return int((value * factor).quantize(_ONE, rounding=ROUND_HALF_UP))


def micro_exact(value: Decimal, factor: int = MICRO_FACTOR) -> int:
    """The slow path's rule for a measurement: value * 1e6 by `scaleb`, half-up to an integer (`factor` is
    always 1e6; it is there to fit `scale_half_up`'s `exact`)."""
    return int(value.scaleb(6).quantize(_ONE, rounding=ROUND_HALF_UP))


def scale_half_up(values: Sequence[object], factor: int, exact: Callable[[Decimal, int], int]) -> np.ndarray:
    """`exact(Decimal(str(v)), factor)` for every value (int, float or Decimal; all finite), vectorised.

    Floats decide every value whose scaled fraction is clearly away from .5; the rest (and huge values) go
    through `exact`, the slow path's own Decimal expression.
    """
    count = len(values)
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    approx = np.fromiter(values, dtype=np.float64, count=count) * float(factor)
    magnitude = np.abs(approx)
    fraction = magnitude - np.floor(magnitude)
    rounded = np.floor(magnitude + 0.5)
    result = np.where(approx < 0, -rounded, rounded)
    doubtful = (np.abs(fraction - 0.5) <= _RELATIVE_ERROR * np.maximum(magnitude, 1.0)) | (magnitude >= _SAFE_MAGNITUDE)
    output = np.where(doubtful, 0.0, result).astype(np.int64)
    for index in np.flatnonzero(doubtful):
        value = values[index]
        output[index] = exact(value if isinstance(value, Decimal) else Decimal(str(value)), factor)
    return output


def optional_micro(values: Sequence[Decimal | None]) -> np.ndarray:
    """Optional measurements as micro units half-up, `NONE` where missing (the slow path's `_micro_half_up`)."""
    present = [index for index, value in enumerate(values) if value is not None]
    output = np.full(len(values), NONE, dtype=np.int64)
    if present:
        output[present] = scale_half_up([values[i] for i in present], MICRO_FACTOR, micro_exact)
    return output


def utc_ms(moment: datetime) -> int:
    """An instant as integer ms since the epoch (naive means UTC), floored like the slow path."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // _MS


def finish_batch(
    ids: list[str], tariff_indexes: Sequence[int], zone_names: list[str], zone_of_session: Sequence[int],
    session_start_ms: Sequence[int], session_end_ms: Sequence[int], expired: Sequence[int],
    offsets: np.ndarray, period_int: np.ndarray,
) -> SessionBatch:
    """Assemble a `SessionBatch` from columns: zone table over the periods' span, error codes preset for
    sessions without a tariff (index < 0) or with an unknown zone."""
    count = len(ids)
    session_int = np.empty((count, 6), dtype=np.int64)
    tariff_column = np.fromiter(tariff_indexes, dtype=np.int64, count=count)
    session_int[:, 0] = tariff_column
    session_int[:, 1] = np.fromiter(zone_of_session, dtype=np.int64, count=count)
    session_int[:, 2] = np.fromiter(session_start_ms, dtype=np.int64, count=count)
    session_int[:, 3] = np.fromiter(session_end_ms, dtype=np.int64, count=count)
    session_int[:, 4] = np.fromiter(expired, dtype=np.int64, count=count)
    session_int[:, 5] = np.where(tariff_column >= 0, 0, ERROR_INDEX["UNKNOWN_TARIFF"])
    starts = period_int[:, 0]
    first = int(starts.min()) if starts.size else 0
    last = int(starts.max()) if starts.size else 0
    zones, valid = build_zone_table(zone_names, first, last)
    if count:
        invalid_zone = ~np.array(valid + [True], dtype=bool)[session_int[:, S_ZONE]]
        session_int[:, S_ERROR] = np.where((session_int[:, S_ERROR] == 0) & invalid_zone,
                                           ERROR_INDEX["UNKNOWN_TIMEZONE"], session_int[:, S_ERROR])
    return SessionBatch(ids=ids, session_int=session_int, period_offsets=offsets, period_int=period_int, zones=zones)


def encode_session_objects(sessions: Sequence[Session], tariff_indexes: Sequence[int]) -> SessionBatch:
    """`Session` objects as a `SessionBatch`, identical to `compile.encode_sessions` but column-wise.

    One Python pass collects each period field into a list; the Decimal-to-integer conversions then run
    vectorised (`scale_half_up`), with zero and missing values never converted at all.
    """
    zone_names = sorted({s.timezone for s in sessions})
    zone_index = {name: i for i, name in enumerate(zone_names)}
    counts = [len(s.periods) for s in sessions]
    offsets = np.zeros(len(sessions) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    # one C-level attribute fetch per period, then columns by transposition
    rows = [_PERIOD_FIELDS(period) for session in sessions for period in session.periods]
    columns = list(zip(*rows)) if rows else [()] * 10
    period_int = np.empty((len(rows), 10), dtype=np.int64)
    period_int[:, 0] = np.fromiter(map(utc_ms, columns[0]), dtype=np.int64, count=len(rows))
    for column, factor in zip(range(1, 5), (ENERGY_FACTOR, HOURS_FACTOR, HOURS_FACTOR, HOURS_FACTOR)):
        period_int[:, column] = nonzero_volumes(columns[column], factor, product_exact)
    for column in range(5, 10):
        period_int[:, column] = optional_micro(columns[column])
    return finish_batch(
        [s.id for s in sessions], tariff_indexes, zone_names, [zone_index[s.timezone] for s in sessions],
        [utc_ms(s.start) for s in sessions], [utc_ms(s.end) for s in sessions],
        [-1 if s.reservation_expired is None else int(s.reservation_expired) for s in sessions],
        offsets, period_int,
    )


def nonzero_volumes(values: Sequence[object], factor: int,
                    exact: Callable[[Decimal, int], int] = volume_exact) -> np.ndarray:
    """Volumes (numbers, never None) scaled by `factor` half-up by the rule `exact` (default: as the CDR
    adapter sums them, 0 + value); zeros skip the conversion."""
    nonzero = [index for index, value in enumerate(values) if value]
    output = np.zeros(len(values), dtype=np.int64)
    if nonzero:
        output[nonzero] = scale_half_up([values[i] for i in nonzero], factor, exact)
    return output
