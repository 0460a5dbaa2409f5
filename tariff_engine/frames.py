"""Polars in, polars out: `price_frame(sessions, periods, tariffs)`, the pipeline's entry point, and
`frame_from_output` (kernel outputs as the pricing frame; also used by `cdr_files`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

import numpy as np
import polars as pl
import pyarrow as pa


from .compile import (
    ERROR_CODES, ERROR_INDEX, NONE, P_ENERGY, P_MIN_CUR, P_PARKING, P_RATE, P_RESERVATION, P_START, P_TIME,
    CompiledTariffs, SessionBatch, build_zone_table, policy_codes,
)

from .kernels import BatchOutput, price_batch
from .model import Tariff
from .money import INTERNAL_DECIMALS


from .policy import DEFAULT_POLICY, GLITCH_WARNINGS, PricingPolicy, warning_codes

from .batch import _compile_each

SESSION_COLUMNS = ("session_id", "tariff_id", "timezone", "start", "end")
PERIOD_COLUMNS = ("session_id", "start", "energy_wh", "time_s", "parking_s")
_OPTIONAL_PERIOD_COLUMNS = {
    "reservation_s": 1000, "min_current_a": None, "max_current_a": None, "min_power_kw": None,
    "max_power_kw": None, "electricity_rate": None,
}


def _to_scaled_int(series: pl.Series, factor: int) -> np.ndarray:
    """A numeric column times `factor`, half-up to integers (exact for integer and Decimal input)."""
    if series.dtype.is_decimal():
        return _decimal_to_scaled_int(series, factor)
    if series.dtype.is_integer():
        return series.cast(pl.Int64).to_numpy() * factor
    values = series.cast(pl.Float64).to_numpy() * factor
    return np.where(values >= 0, np.floor(values + 0.5), -np.floor(-values + 0.5)).astype(np.int64)


def _decimal_to_scaled_int(series: pl.Series, factor: int) -> np.ndarray:
    """Decimal column * factor, half-up, read from the arrow decimal128 words (values must fit in 64 bits)."""
    array = series.to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    array = array.cast(pa.decimal128(38, array.type.scale))
    words = np.frombuffer(array.buffers()[1], dtype=np.int64)[2 * array.offset: 2 * (array.offset + len(array))]
    low, high = words[0::2], words[1::2]
    if np.any(high != np.where(low < 0, -1, 0)):
        raise ValueError(f"column {series.name!r}: values beyond 64-bit range")
    divisor = 10 ** array.type.scale
    sign = np.where(low < 0, -1, 1)
    magnitude = np.abs(low) * factor
    return sign * ((2 * magnitude + divisor) // (2 * divisor))


def _optional_micro(frame: pl.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(frame.height, NONE, dtype=np.int64)
    series = frame[column]
    values = _to_scaled_int(series.fill_null(0), 1_000_000)
    values = np.where(values < 0, -1, values)
    return np.where(series.is_null().to_numpy(), NONE, values)


def _epoch_ms_series(series: pl.Series) -> pl.Series:
    return series.dt.replace_time_zone(None).dt.epoch("ms") if series.dtype.time_zone else series.dt.epoch("ms")


def _epoch_ms(series: pl.Series) -> np.ndarray:
    return _epoch_ms_series(series).to_numpy()


def _start_bounds_ms(starts: pl.Series) -> tuple[int, int]:
    """First and last period start in epoch ms, as `_epoch_ms` computes them (0, 0 without periods)."""
    if starts.len() == starts.null_count():
        return 0, 0
    epoch = _epoch_ms_series(starts)
    return int(epoch.min()), int(epoch.max())


def _decimal_column(nano: np.ndarray, decimals: int = 4) -> pa.Array:
    """Integer nano amounts (multiples of the output unit) as an exact arrow decimal128(18, decimals)."""
    scaled = (nano // 10 ** (INTERNAL_DECIMALS - decimals)).astype(np.int64)
    words = np.empty((scaled.shape[0], 2), dtype=np.int64)
    words[:, 0] = scaled
    words[:, 1] = np.where(scaled < 0, -1, 0)
    return pa.Array.from_buffers(pa.decimal128(18, decimals), scaled.shape[0], [None, pa.py_buffer(words.tobytes())])


def price_frame(
    sessions: pl.DataFrame,
    periods: pl.DataFrame,
    tariffs: Mapping[str, Tariff],
    policy: PricingPolicy = DEFAULT_POLICY,
) -> pl.DataFrame:
    """Price sessions given as frames through the kernels (the pipeline entry point).

    `sessions`: session_id, tariff_id, timezone (IANA), start, end (Datetime UTC), optional
    reservation_expired (bool). `periods`: session_id, start (Datetime UTC), energy_wh, time_s, parking_s and
    optional reservation_s, min_current_a, max_current_a, min_power_kw, max_power_kw, electricity_rate
    (per kWh; Decimal recommended). Periods are priced in start order (see the glitch policy).
    Returns one row per session: session_id, currency, error_code, the six OCPI totals as
    `<name>_excl` / `<name>_incl` Decimal(18, 4), total_energy_wh (Float64), total_time_s, total_parking_s (Int64)
    and pricing_warnings (String: the glitch codes repaired under the WARN policy, comma-separated, or null;
    periods given out of order within a session count as PERIODS_OUT_OF_ORDER).
    Amounts are reported at 4 decimals, so the policy's output decimals must be <= 4. A period whose
    session_id is not in `sessions` raises ValueError (nothing is dropped silently).
    """
    if policy.rounding.decimals is not None and policy.rounding.decimals > 4:
        raise ValueError("price_frame reports Decimal(18, 4): rounding decimals must be <= 4")
    missing = [c for c in SESSION_COLUMNS if c not in sessions.columns] + [c for c in PERIOD_COLUMNS if c not in periods.columns]
    if missing:
        raise ValueError(f"missing columns: {missing}")
    if sessions["session_id"].n_unique() != sessions.height:
        raise ValueError("sessions: session_id is not unique")
    tariff_ids = list(tariffs)
    compiled, remap, errors = _compile_each(list(tariffs.values()), policy)
    periods, counts = _periods_in_session_order(sessions, periods)
    offsets = np.zeros(sessions.height + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    first_ms, last_ms = _start_bounds_ms(periods["start"])
    zone_names = sorted(sessions["timezone"].unique().to_list())
    zones, valid = build_zone_table(zone_names, first_ms, last_ms)
    zone_idx = sessions["timezone"].replace_strict({z: i for i, z in enumerate(zone_names)}, return_dtype=pl.Int64).to_numpy().astype(np.int64)
    # per tariff id: kernel index (or -1) and the error code its sessions get (0 = none)
    position = sessions["tariff_id"].replace_strict({t: i for i, t in enumerate(tariff_ids)}, default=len(tariff_ids),
                                                   return_dtype=pl.Int64).to_numpy().astype(np.int64)
    kernel_index = np.array(remap + [-1], dtype=np.int64)
    tariff_error = np.array([ERROR_INDEX[errors[i][0]] if i in errors else 0 for i in range(len(tariff_ids))]
                            + [ERROR_INDEX["UNKNOWN_TARIFF"]], dtype=np.int64)
    session_int = np.zeros((sessions.height, 6), dtype=np.int64)
    session_int[:, 0] = np.maximum(kernel_index[position], 0)
    session_int[:, 1] = zone_idx
    session_int[:, 2] = _epoch_ms(sessions["start"])
    session_int[:, 3] = _epoch_ms(sessions["end"])
    session_int[:, 4] = (sessions["reservation_expired"].cast(pl.Int64).fill_null(-1).to_numpy()
                         if "reservation_expired" in sessions.columns else -1)
    invalid_zone = ~np.array(valid + [True], dtype=bool)[zone_idx]
    session_int[:, 5] = np.where((tariff_error[position] == 0) & invalid_zone, ERROR_INDEX["UNKNOWN_TIMEZONE"],
                                 tariff_error[position])
    output = _price_frame_in_chunks(compiled, session_int, offsets, periods, zones, policy_codes(policy))
    return frame_from_output(sessions, tariffs, output)


_FRAME_CHUNK_SESSIONS = 8_192  # ~1 MB of periods per chunk: the buffer stays in cache


def _periods_in_session_order(sessions: pl.DataFrame, periods: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
    """The periods grouped by session in the sessions' order (each session's periods in the order given),
    and the period count of each session.

    The order within a session is kept as given: the kernels' glitch policy decides what periods out of
    chronological order mean (sorted with the warning PERIODS_OUT_OF_ORDER, or refused under STRICT).
    When the periods already come grouped in the sessions' order (how the pipeline writes them) the join +
    sort is skipped. Orphans raise ValueError.
    """
    ids = periods["session_id"]
    if periods.height and ids.null_count() == 0:
        runs = ids.rle()
        if runs.len() == sessions.height and runs.struct.field("value").equals(sessions["session_id"], check_names=False):
            return periods, runs.struct.field("len").to_numpy().astype(np.int64)
    indexed = sessions.select("session_id").with_row_index("_session_index")
    periods = periods.join(indexed, on="session_id", how="left", maintain_order="left")
    orphans = periods["_session_index"].null_count()
    if orphans:
        raise ValueError(f"periods: {orphans} rows belong to no session of the sessions frame")
    periods = periods.sort("_session_index", maintain_order=True)
    counts = np.bincount(periods["_session_index"].to_numpy().astype(np.int64), minlength=sessions.height)
    return periods, counts


def _period_block(periods: pl.DataFrame, block: np.ndarray) -> None:
    """Encode `periods` (a slice of the frame) into the rows of `block` ([len(periods), 10])."""
    block[:, P_START] = _epoch_ms(periods["start"])
    block[:, P_ENERGY] = _to_scaled_int(periods["energy_wh"], 1000)
    block[:, P_TIME] = _to_scaled_int(periods["time_s"], 1000)
    block[:, P_PARKING] = _to_scaled_int(periods["parking_s"], 1000)
    block[:, P_RESERVATION] = _to_scaled_int(periods["reservation_s"], 1000) if "reservation_s" in periods.columns else 0
    for column, name in zip(range(P_MIN_CUR, P_RATE + 1),
                            ("min_current_a", "max_current_a", "min_power_kw", "max_power_kw", "electricity_rate")):
        block[:, column] = _optional_micro(periods, name)


def _price_frame_in_chunks(compiled: CompiledTariffs, session_int: np.ndarray, offsets: np.ndarray,
                           periods: pl.DataFrame, zones: Any, codes: np.ndarray) -> BatchOutput:
    """Price the sessions chunk by chunk through one reused period buffer.

    Encoding a whole frame at once writes ~80 bytes per period into fresh memory, and on this kind of
    machine first-touching hundreds of MB costs more than the kernel; a chunk-sized buffer is faulted in
    once and stays warm. Outputs are concatenated (the kernel prices each session independently).
    """
    n_sessions = session_int.shape[0]
    widest = max((int(offsets[min(a + _FRAME_CHUNK_SESSIONS, n_sessions)] - offsets[a])
                  for a in range(0, n_sessions, _FRAME_CHUNK_SESSIONS)), default=0)
    buffer = np.empty((max(widest, 1), 10), dtype=np.int64)
    parts: list[BatchOutput] = []
    for first in range(0, max(n_sessions, 1), _FRAME_CHUNK_SESSIONS):
        last = min(first + _FRAME_CHUNK_SESSIONS, n_sessions)
        p0, p1 = int(offsets[first]), int(offsets[last])
        block = buffer[: p1 - p0]
        _period_block(periods.slice(p0, p1 - p0), block)
        batch = SessionBatch([], session_int[first:last], offsets[first:last + 1] - p0, block, zones)
        parts.append(price_batch(compiled, batch, codes, want_rows=False))
    if len(parts) == 1:
        return parts[0]
    output = BatchOutput(0, 0, False)
    for name in ("error", "category_excl", "category_incl", "totals", "flags", "quantities", "warnings"):
        setattr(output, name, np.concatenate([getattr(part, name) for part in parts]))
    return output


def frame_from_output(sessions: pl.DataFrame, tariffs: Mapping[str, Tariff], output: BatchOutput) -> pl.DataFrame:
    """The kernel outputs as the pricing frame described in `price_frame`."""
    codes = pl.Series("error_code", [c or None for c in ERROR_CODES], dtype=pl.String).gather(output.error)
    currencies = sessions["tariff_id"].replace_strict({t: tariff.currency for t, tariff in tariffs.items()},
                                                      default=None, return_dtype=pl.String)
    columns: dict[str, Any] = {
        "total_cost_excl": _decimal_column(output.totals[:, 0]),
        "total_cost_incl": _decimal_column(output.totals[:, 1]),
    }
    for category, name in enumerate(("energy", "time", "parking", "fixed", "reservation")):
        columns[f"total_{name}_cost_excl"] = _decimal_column(output.category_excl[:, category])
        columns[f"total_{name}_cost_incl"] = _decimal_column(output.category_incl[:, category])
    columns["total_energy_wh"] = pa.array(output.quantities[:, 0] / 1000.0)
    columns["total_time_s"] = pa.array((output.quantities[:, 1] + output.quantities[:, 2]) // 1000)
    columns["total_parking_s"] = pa.array(output.quantities[:, 2] // 1000)
    amounts = pl.from_arrow(pa.table(columns))
    # glitches repaired before pricing (policy.GLITCH_WARNINGS), comma-separated; null when none
    texts = pl.Series([",".join(warning_codes(mask)) or None for mask in range(1 << len(GLITCH_WARNINGS))], dtype=pl.String)
    amounts = amounts.with_columns(texts.gather(output.warnings).alias("pricing_warnings"))
    return pl.concat([pl.DataFrame([sessions["session_id"], currencies.alias("currency"), codes]), amounts],
                     how="horizontal")
