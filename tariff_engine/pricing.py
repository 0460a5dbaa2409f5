"""Batch pricing through the numba kernels: model objects, parsed OCPI JSON, or polars frames in.

- `price_sessions(tariffs, sessions, tariff_indexes)`: canonical objects in, `PricingResult`s out.
- `price_cdrs(cdrs, tariffs, timezone=None)`: parsed OCPI CDR and tariff JSON in, JSON-shaped totals out,
  one per CDR; a bad CDR gets an `error` entry and never stops the batch.
- `price_frame(sessions, periods, tariffs)`: the pipeline entry point (polars in, polars out).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping, Sequence

import numpy as np
import polars as pl
import pyarrow as pa

from .adapters.ocpi import OcpiFormatError, TimezoneUnresolvedError, cdr_tariff_ids, parse_cdr, parse_tariff, snake_keys
from .compile import (
    ERROR_CODES, ERROR_INDEX, NONE, P_ENERGY, P_PARKING, P_RESERVATION, P_TIME, S_ERROR, CompiledTariffs,
    SessionBatch, TariffCompileError, build_zone_table, compile_tariffs, encode_sessions, policy_codes,
)
from .kernels import BatchOutput, price_batch
from .model import BreakdownRow, PricingResult, Session, Tariff
from .money import INTERNAL_DECIMALS, UnknownCurrencyError, nano_to_decimal
from .outcome import SessionOutcome, assemble, volume_decimal
from .policy import DEFAULT_POLICY, PricingPolicy

_ROW_ORDER = ((3, "FLAT"), (0, "ENERGY"), (1, "TIME"), (2, "PARKING_TIME"), (4, "RESERVATION_TIME"))
_ERROR_MESSAGES = {
    "UNKNOWN_TIMEZONE": "unknown time zone",
    "INVALID_SESSION_TIMES": "session ends before it starts",
    "TARIFF_NOT_ACTIVE": "session starts outside the tariff's start/end date time",
    "NO_PERIODS": "session has no charging periods",
    "PERIOD_OUTSIDE_SESSION": "a charging period starts outside the session",
    "NON_MONOTONIC_PERIODS": "a charging period starts before the previous one",
    "NEGATIVE_VOLUME": "a charging period has a negative volume",
    "NEGATIVE_MEASUREMENT": "a charging period has a negative measurement",
    "MISSING_ELECTRICITY_RATE": "a charging period has no electricity rate",
    "AMOUNT_OVERFLOW": "an amount exceeds the engine's range",
    "TARIFF_NOT_COMPILABLE": "the tariff cannot be compiled",
    "UNKNOWN_TARIFF": "no tariff for this session",
    "UNKNOWN_CURRENCY": "the tariff's currency is not an ISO 4217 code",
}


def _compile_each(tariffs: Sequence[Tariff], policy: PricingPolicy) -> tuple[CompiledTariffs, list[int], dict[int, tuple[str, str]]]:
    """Compile the tariffs that can be compiled, each distinct tariff once; returns (compiled, kernel index
    per input tariff or -1, {input index: (error code, message)} for the ones that cannot be compiled)."""
    distinct: dict[Tariff, int] = {}
    unique: list[Tariff] = []
    slot_of = []
    for tariff in tariffs:
        if tariff not in distinct:
            distinct[tariff] = len(unique)
            unique.append(tariff)
        slot_of.append(distinct[tariff])
    try:  # the common case: everything compiles in one go
        compiled = compile_tariffs(unique, policy)
        return compiled, slot_of, {}
    except (TariffCompileError, ValueError):
        pass
    good, unique_remap, unique_errors = [], [], {}
    for index, tariff in enumerate(unique):
        try:
            compile_tariffs([tariff], policy)
        except UnknownCurrencyError as error:
            unique_errors[index] = ("UNKNOWN_CURRENCY", str(error))
            unique_remap.append(-1)
            continue
        except (TariffCompileError, ValueError) as error:
            unique_errors[index] = ("TARIFF_NOT_COMPILABLE", str(error))
            unique_remap.append(-1)
            continue
        unique_remap.append(len(good))
        good.append(tariff)
    compiled = compile_tariffs(good, policy) if good else compile_tariffs([_EMPTY_TARIFF], policy)
    errors = {i: unique_errors[slot] for i, slot in enumerate(slot_of) if slot in unique_errors}
    return compiled, [unique_remap[slot] for slot in slot_of], errors


def _empty_tariff() -> Tariff:
    from .model import PriceComponent, TariffElement

    return Tariff(id="", currency="EUR", elements=(TariffElement((PriceComponent("FLAT", Decimal(0)),)),))


_EMPTY_TARIFF = _empty_tariff()


def decode_outcome(output: BatchOutput, batch: SessionBatch, index: int, n_slots: int) -> SessionOutcome:
    """The kernel's outputs of session `index` as a `SessionOutcome` (rows when they were computed)."""
    code = int(output.error[index])
    if code != 0:
        name = ERROR_CODES[code]
        return SessionOutcome((0,) * 5, (0,) * 5, ((),) * 5, 0, 0, False, False, 0, 0, 0,
                              error_code=name, error=_ERROR_MESSAGES.get(name, name))
    rows = []
    if output.rows.shape[0] == batch.period_int.shape[0]:
        p0, p1 = batch.period_offsets[index], batch.period_offsets[index + 1]
        for p in range(p0, p1):
            period = batch.period_int[p]
            reservation_period = (period[P_RESERVATION] > 0 and period[P_TIME] == 0 and period[P_PARKING] == 0
                                  and period[P_ENERGY] == 0)
            for slot, dimension in _ROW_ORDER:
                row = output.rows[p, slot]
                if row[0] < 0:
                    continue
                raw, billed = int(row[2]), int(row[3])
                rows.append(BreakdownRow(
                    period_index=int(p - p0), dimension=dimension, element_index=int(row[0]),
                    component_index=int(row[1]), raw_volume=volume_decimal(raw, dimension),
                    billed_volume=volume_decimal(billed, dimension), step_volume=volume_decimal(billed - raw, dimension),
                    price=Decimal(int(row[4])).scaleb(-6), excl_vat=nano_to_decimal(int(row[5])),
                    tax=nano_to_decimal(int(row[6])), reservation=slot == 4 or (slot == 3 and reservation_period),
                ))
    flags = int(output.flags[index])
    return SessionOutcome(
        category_excl=tuple(int(v) for v in output.category_excl[index]),
        category_incl=tuple(int(v) for v in output.category_incl[index]),
        category_taxes=tuple(tuple(int(v) for v in output.category_tax[index, c, :n_slots]) for c in range(5)),
        total_excl=int(output.totals[index, 0]),
        total_incl=int(output.totals[index, 1]),
        min_price_applied=bool(flags & 1),
        max_price_applied=bool(flags & 2),
        energy_mwh=int(output.quantities[index, 0]),
        time_ms=int(output.quantities[index, 1]),
        parking_ms=int(output.quantities[index, 2]),
        rows=tuple(rows),
    )


def price_sessions(
    tariffs: Sequence[Tariff],
    sessions: Sequence[Session],
    tariff_indexes: Sequence[int] | None = None,
    policy: PricingPolicy = DEFAULT_POLICY,
    breakdown: bool = True,
) -> list[PricingResult]:
    """Price `sessions` through the kernels; session i uses `tariffs[tariff_indexes[i]]` (default: tariff 0;
    -1 means no tariff: error UNKNOWN_TARIFF). One kernel call for the whole batch."""
    if tariff_indexes is None:
        tariff_indexes = [0] * len(sessions)
    compiled, remap, errors = _compile_each(tariffs, policy)
    kernel_indexes = [remap[i] if i >= 0 else -1 for i in tariff_indexes]
    batch = encode_sessions(list(sessions), [max(i, 0) for i in kernel_indexes])
    for row, original, kernel_index in zip(batch.session_int, tariff_indexes, kernel_indexes):
        if original < 0:
            row[S_ERROR] = ERROR_INDEX["UNKNOWN_TARIFF"]
        elif kernel_index < 0:
            row[S_ERROR] = ERROR_INDEX["TARIFF_NOT_COMPILABLE"]
    output = price_batch(compiled, batch, policy_codes(policy), want_rows=breakdown)
    results = []
    for index, session in enumerate(sessions):
        original = tariff_indexes[index]
        tariff = tariffs[original] if original >= 0 else _EMPTY_TARIFF
        outcome = decode_outcome(output, batch, index, 1 + len(tariff.taxes))
        if outcome.error_code == "TARIFF_NOT_COMPILABLE" and original in errors:
            outcome = _with_error(outcome, *errors[original])
        results.append(assemble(session.id, tariff, outcome, policy))
    return results


def _with_error(outcome: SessionOutcome, code: str, message: str) -> SessionOutcome:
    return SessionOutcome(outcome.category_excl, outcome.category_incl, outcome.category_taxes, 0, 0, False, False,
                          0, 0, 0, error_code=code, error=message)


# ---- OCPI JSON in, JSON out ---------------------------------------------------------------------------------

_OCPI_TOTALS = ("total_cost", "total_energy_cost", "total_time_cost", "total_parking_cost", "total_fixed_cost",
                "total_reservation_cost")


def result_to_json(result: PricingResult) -> dict[str, Any]:
    """A `PricingResult` as OCPI-shaped JSON: amounts and quantities as decimal strings."""
    if result.error_code is not None:
        return {"id": result.session_id, "error": {"code": result.error_code, "message": result.error}}
    document: dict[str, Any] = {"id": result.session_id, "currency": result.currency}
    for name in _OCPI_TOTALS:
        amount = getattr(result, name)
        document[name] = {"excl_vat": str(amount.excl_vat), "incl_vat": str(amount.incl_vat)}
        if any(tax.name != "VAT" for tax in amount.taxes):
            document[name]["taxes"] = [{"name": t.name, "amount": str(t.amount)} for t in amount.taxes]
    document["total_energy"] = str(result.total_energy.normalize() if result.total_energy else Decimal(0))
    document["total_time"] = str(result.total_time.quantize(Decimal("0.0001")))
    document["total_parking_time"] = str(result.total_parking_time.quantize(Decimal("0.0001")))
    document["min_price_applied"] = result.min_price_applied
    document["max_price_applied"] = result.max_price_applied
    return document


def _error_json(cdr: Any, code: str, message: str) -> dict[str, Any]:
    cdr_id = cdr.get("id") if isinstance(cdr, Mapping) else None
    return {"id": cdr_id, "error": {"code": code, "message": message}}


def price_cdrs(
    cdrs: Sequence[Mapping[str, Any]],
    tariffs: Sequence[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]],
    timezone: str | None = None,
    policy: PricingPolicy = DEFAULT_POLICY,
) -> list[dict[str, Any]]:
    """Price parsed OCPI CDRs under parsed OCPI tariffs through the kernels; one JSON result per CDR.

    The tariff of a CDR is the one its charging periods' `tariff_id` names (looked up in `tariffs`, then in
    the CDR's own `tariffs`); with no `tariff_id`, the only tariff given. The zone is `timezone` or the
    CDR's location (see `adapters.ocpi.resolve_timezone`). Errors are per CDR:
    `{"id": …, "error": {"code": "MALFORMED_CDR" | "MALFORMED_TARIFF" | "TIMEZONE_UNRESOLVED" |
    "UNKNOWN_TARIFF" | "MULTIPLE_TARIFFS" | <kernel code>, "message": …}}`.
    """
    given = list(tariffs.values()) if isinstance(tariffs, Mapping) else list(tariffs)
    parsed: list[Tariff] = []
    by_id: dict[str, int] = {}
    tariff_errors: dict[str, str] = {}
    for index, document in enumerate(given):
        identifier = str(snake_keys(document).get("id")) if isinstance(document, Mapping) else str(index)
        try:
            tariff = parse_tariff(document)
        except (OcpiFormatError, ValueError) as error:
            tariff_errors[identifier] = str(error)
            continue
        by_id.setdefault(tariff.id, len(parsed))
        parsed.append(tariff)
    results: list[dict[str, Any] | None] = [None] * len(cdrs)
    sessions: list[Session] = []
    indexes: list[int] = []
    positions: list[int] = []
    for position, cdr in enumerate(cdrs):
        try:
            if not isinstance(cdr, Mapping):
                raise OcpiFormatError("$", "expected an object")
            session = parse_cdr(cdr, timezone)
            tariff_index = _tariff_for(cdr, by_id, parsed, tariff_errors, len(given))
        except TimezoneUnresolvedError as error:
            results[position] = _error_json(cdr, "TIMEZONE_UNRESOLVED", str(error))
            continue
        except _TariffChoiceError as error:
            results[position] = _error_json(cdr, error.code, str(error))
            continue
        except (OcpiFormatError, ValueError) as error:
            results[position] = _error_json(cdr, "MALFORMED_CDR", str(error))
            continue
        sessions.append(session)
        indexes.append(tariff_index)
        positions.append(position)
    if sessions:
        for position, result in zip(positions, price_sessions(parsed, sessions, indexes, policy, breakdown=False)):
            results[position] = result_to_json(result)
    return [r for r in results if r is not None]


class _TariffChoiceError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _tariff_for(cdr: Mapping[str, Any], by_id: dict[str, int], parsed: list[Tariff], tariff_errors: dict[str, str],
                given_count: int) -> int:
    ids = cdr_tariff_ids(cdr)
    if len(ids) > 1:
        raise _TariffChoiceError("MULTIPLE_TARIFFS", f"periods reference several tariffs {ids}; not supported")
    if ids:
        if ids[0] in by_id:
            return by_id[ids[0]]
        if ids[0] in tariff_errors:
            raise _TariffChoiceError("MALFORMED_TARIFF", tariff_errors[ids[0]])
        for own in snake_keys(cdr).get("tariffs") or []:
            if isinstance(own, Mapping) and str(own.get("id")) == ids[0]:
                try:
                    tariff = parse_tariff(own)
                except (OcpiFormatError, ValueError) as error:
                    raise _TariffChoiceError("MALFORMED_TARIFF", str(error)) from None
                parsed.append(tariff)  # scoped to this CDR: not registered by id for the others
                return len(parsed) - 1
        raise _TariffChoiceError("UNKNOWN_TARIFF", f"tariff {ids[0]!r} not given")
    if given_count == 1:
        if parsed:
            return 0
        raise _TariffChoiceError("MALFORMED_TARIFF", next(iter(tariff_errors.values())))
    raise _TariffChoiceError("UNKNOWN_TARIFF", "the CDR names no tariff_id and several tariffs were given")


# ---- polars -------------------------------------------------------------------------------------------------

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


def _epoch_ms(series: pl.Series) -> np.ndarray:
    return series.dt.replace_time_zone(None).dt.epoch("ms").to_numpy() if series.dtype.time_zone else series.dt.epoch("ms").to_numpy()


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
    (per kWh; Decimal recommended). Periods are priced in (session_id, start) order.
    Returns one row per session: session_id, currency, error_code, the six OCPI totals as
    `<name>_excl` / `<name>_incl` Decimal(18, 4), total_energy_wh (Float64), total_time_s, total_parking_s (Int64).
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
    indexed = sessions.select("session_id").with_row_index("_session_index")
    periods = periods.join(indexed, on="session_id", how="left")
    orphans = periods["_session_index"].null_count()
    if orphans:
        raise ValueError(f"periods: {orphans} rows belong to no session of the sessions frame")
    periods = periods.sort(["_session_index", "start"])
    counts = np.bincount(periods["_session_index"].to_numpy().astype(np.int64), minlength=sessions.height)
    offsets = np.zeros(sessions.height + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    starts = _epoch_ms(periods["start"])
    period_int = np.empty((periods.height, 10), dtype=np.int64)
    period_int[:, 0] = starts
    period_int[:, 1] = _to_scaled_int(periods["energy_wh"], 1000)
    period_int[:, 2] = _to_scaled_int(periods["time_s"], 1000)
    period_int[:, 3] = _to_scaled_int(periods["parking_s"], 1000)
    period_int[:, 4] = _to_scaled_int(periods["reservation_s"], 1000) if "reservation_s" in periods.columns else 0
    for column, name in zip(range(5, 10), ("min_current_a", "max_current_a", "min_power_kw", "max_power_kw", "electricity_rate")):
        period_int[:, column] = _optional_micro(periods, name)
    zone_names = sorted(sessions["timezone"].unique().to_list())
    zones, valid = build_zone_table(zone_names, int(starts.min()) if starts.size else 0, int(starts.max()) if starts.size else 0)
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
    batch = SessionBatch([], session_int, offsets, period_int, zones)
    output = price_batch(compiled, batch, policy_codes(policy), want_rows=False)
    return frame_from_output(sessions, tariffs, output)


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
    return pl.concat([pl.DataFrame([sessions["session_id"], currencies.alias("currency"), codes]), amounts],
                     how="horizontal")
