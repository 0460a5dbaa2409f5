"""Batch pricing through the numba kernels: model objects, parsed OCPI JSON, or polars frames in.

- `price_sessions(tariffs, sessions, tariff_indexes)`: canonical objects in, `PricingResult`s out.
- `price_cdrs(cdrs, tariffs, timezone=None)`: parsed OCPI CDR and tariff JSON in, JSON-shaped totals out,
  one per CDR; a bad CDR gets an `error` entry and never stops the batch.
- `price_frame(sessions, periods, tariffs)`: the pipeline entry point (polars in, polars out).

Each path has a fast lane that gives the same results to the last digit (tests/engine/test_fast_paths.py):
sessions are encoded column-wise (`encode`), well-formed CDRs are scanned straight into columns
(`cdr_scan`; anything unusual goes the object way, which words its errors), results are formatted from the
kernel's integers (`render`), and frames are encoded chunk by chunk into one reused buffer.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping, Sequence

import numpy as np
import polars as pl
import pyarrow as pa

from .adapters.ocpi import OcpiFormatError, TimezoneUnresolvedError, cdr_tariff_ids, parse_cdr, parse_tariff, snake_keys
from .cdr_scan import UNREADABLE, ScannedCdrs, own_tariff_id, scan_cdrs
from .compile import (
    ERROR_CODES, ERROR_INDEX, NONE, P_ENERGY, P_MAX_POW, P_MIN_CUR, P_PARKING, P_RATE, P_RESERVATION, P_START, P_TIME,
    S_ERROR, CompiledTariffs, SessionBatch, TariffCompileError, build_zone_table, compile_tariffs, policy_codes,
)
from .encode import ENERGY_FACTOR, HOURS_FACTOR, encode_session_objects, finish_batch, nonzero_volumes, optional_micro
from .kernels import BatchOutput, price_batch
from .model import BreakdownRow, PricingResult, Session, Tariff
from .money import INTERNAL_DECIMALS, UnknownCurrencyError, nano_to_decimal
from .outcome import SessionOutcome, assemble, volume_decimal
from .render import priced_json, priced_results
from .policy import DEFAULT_POLICY, GLITCH_WARNINGS, PricingPolicy, warning_codes

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
    "MIXED_RESERVATION_PERIOD": "a charging period carries RESERVATION_TIME together with energy, charging or parking time",
    "BOUND_TAX_AMBIGUOUS": "a min/max price without incl. VAT amount on an unpriced session of a tariff with several tax rates",
}


def _compile_each(tariffs: Sequence[Tariff], policy: PricingPolicy) -> tuple[CompiledTariffs, list[int], dict[int, tuple[str, str]]]:
    """Compile the tariffs that can be compiled, each distinct tariff once; returns (compiled, kernel index
    per input tariff or -1, {input index: (error code, message)} for the ones that cannot be compiled)."""
    distinct: dict[Tariff, int] = {}
    by_identity: dict[int, int] = {}  # callers repeat the same objects: skip hashing the whole tariff again
    unique: list[Tariff] = []
    slot_of = []
    for tariff in tariffs:
        slot = by_identity.get(id(tariff))
        if slot is None:
            slot = distinct.get(tariff)
            if slot is None:
                slot = distinct[tariff] = len(unique)
                unique.append(tariff)
            by_identity[id(tariff)] = slot
        slot_of.append(slot)
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
    periods_priced = output.period_int if output.period_int is not None else batch.period_int
    if code != 0:
        name = ERROR_CODES[code]
        return SessionOutcome((0,) * 5, (0,) * 5, ((),) * 5, 0, 0, False, False, 0, 0, 0,
                              error_code=name, error=_ERROR_MESSAGES.get(name, name))
    rows = []
    if output.rows.shape[0] == periods_priced.shape[0]:
        p0, p1 = batch.period_offsets[index], batch.period_offsets[index + 1]
        for p in range(p0, p1):
            period = periods_priced[p]
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
                    price=Decimal(int(row[4])).scaleb(-int(row[7])), excl_vat=nano_to_decimal(int(row[5])),
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
        warnings=warning_codes(int(output.warnings[index])),
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
    batch = encode_session_objects(sessions, [max(i, 0) for i in kernel_indexes])
    for row, original, kernel_index in zip(batch.session_int, tariff_indexes, kernel_indexes):
        if original < 0:
            row[S_ERROR] = ERROR_INDEX["UNKNOWN_TARIFF"]
        elif kernel_index < 0:
            row[S_ERROR] = ERROR_INDEX["TARIFF_NOT_COMPILABLE"]
    output = price_batch(compiled, batch, policy_codes(policy), want_rows=breakdown)
    results: list[PricingResult | None] = [None] * len(sessions)
    fast, fast_ids, fast_tariffs = [], [], []
    for index, session in enumerate(sessions):
        original = tariff_indexes[index]
        tariff = tariffs[original] if original >= 0 else _EMPTY_TARIFF
        if not breakdown and not tariff.taxes and output.error[index] == 0:
            fast.append(index)  # assembled column-wise below
            fast_ids.append(session.id)
            fast_tariffs.append(tariff)
            continue
        outcome = decode_outcome(output, batch, index, 1 + len(tariff.taxes))
        if outcome.error_code == "TARIFF_NOT_COMPILABLE" and original in errors:
            outcome = _with_error(outcome, *errors[original])
        results[index] = assemble(session.id, tariff, outcome, policy)
    for index, result in zip(fast, priced_results(output, fast, fast_ids, fast_tariffs, policy)):
        results[index] = result
    return results  # type: ignore[return-value]  # every slot is filled above


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
    if result.warnings:
        document["warnings"] = list(result.warnings)
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
    # Fast path: well-formed CDRs go column-wise into one kernel batch; every other CDR (and every error
    # decided before the kernel) goes through the object path below, which words the errors.
    scanned = scan_cdrs(cdrs, timezone)
    chooser = _FastTariffChooser(parsed, by_id, tariff_errors, len(given))
    tariff_of = [chooser.choose(ref, own) for ref, own in zip(scanned.tariff_refs, scanned.own_tariffs)]
    if any(index is not None for index in tariff_of):
        for position, document in zip(scanned.positions, _price_scanned(scanned, tariff_of, chooser.tariffs, policy)):
            results[position] = document
    slow_positions = sorted(scanned.deferred + [p for p, i in zip(scanned.positions, tariff_of) if i is None])
    _price_cdrs_slowly(cdrs, slow_positions, results, list(parsed), by_id, tariff_errors, len(given), timezone, policy)
    return [r for r in results if r is not None]


def _price_cdrs_slowly(cdrs: Sequence[Any], positions: list[int], results: list[dict[str, Any] | None],
                       parsed: list[Tariff], by_id: dict[str, int], tariff_errors: dict[str, str], given_count: int,
                       timezone: str | None, policy: PricingPolicy) -> None:
    """The object path for the CDRs at `positions`: `parse_cdr`, tariff choice, kernels, `result_to_json`."""
    sessions: list[Session] = []
    indexes: list[int] = []
    priced_positions: list[int] = []
    for position in positions:
        cdr = cdrs[position]
        try:
            if not isinstance(cdr, Mapping):
                raise OcpiFormatError("$", "expected an object")
            session = parse_cdr(cdr, timezone)
            tariff_index = _tariff_for(cdr, by_id, parsed, tariff_errors, given_count)
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
        priced_positions.append(position)
    if sessions:
        for position, result in zip(priced_positions, price_sessions(parsed, sessions, indexes, policy, breakdown=False)):
            results[position] = result_to_json(result)


class _FastTariffChooser:
    """`_tariff_for` for scanned CDRs: the same choice, or None when the object path must decide (errors).

    A CDR's own tariff is parsed once per distinct content (its `repr`) for the whole call; like in the
    object path it is not registered by id for other CDRs.
    """

    def __init__(self, parsed: list[Tariff], by_id: dict[str, int], tariff_errors: dict[str, str],
                 given_count: int) -> None:
        self.tariffs = list(parsed)
        self._given = len(parsed)
        self._by_id = by_id
        self._errors = tariff_errors
        self._given_count = given_count
        self._own: dict[str, int | None] = {}

    def choose(self, reference: str | None, own_tariffs: Any) -> int | None:
        """The index into `self.tariffs` of the CDR's tariff, or None (the object path decides)."""
        if reference is None:
            return 0 if self._given_count == 1 and self._given else None
        if reference in self._by_id:
            return self._by_id[reference]
        if reference in self._errors or type(own_tariffs) is not list:
            return None
        for own in own_tariffs:
            if type(own) is not dict:
                if isinstance(own, Mapping):
                    return None
                continue
            identifier = own_tariff_id(own)
            if identifier is UNREADABLE:
                return None
            if str(identifier) == reference:
                return self._parse_own(own)
        return None

    def _parse_own(self, document: dict[str, Any]) -> int | None:
        key = repr(document)
        if key not in self._own:
            try:
                tariff = parse_tariff(document)
            except (OcpiFormatError, ValueError):
                self._own[key] = None
            else:
                self._own[key] = len(self.tariffs)
                self.tariffs.append(tariff)
        return self._own[key]


def _price_scanned(scanned: ScannedCdrs, tariff_of: list[int | None], tariffs: list[Tariff],
                   policy: PricingPolicy) -> list[dict[str, Any] | None]:
    """Price the scanned CDRs in one kernel batch; None for those whose tariff the object path must choose."""
    compiled, remap, compile_errors = _compile_each(tariffs, policy)
    count = len(scanned.positions)
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(scanned.period_counts, out=offsets[1:])
    period_int = np.empty((len(scanned.period_start_ms), 10), dtype=np.int64)
    period_int[:, P_START] = np.asarray(scanned.period_start_ms, dtype=np.int64).reshape(-1)
    values = scanned.period_columns()
    for column, factor in ((P_ENERGY, ENERGY_FACTOR), (P_TIME, HOURS_FACTOR), (P_PARKING, HOURS_FACTOR),
                           (P_RESERVATION, HOURS_FACTOR)):
        period_int[:, column] = nonzero_volumes(values[column - P_ENERGY], factor)
    for column in range(P_MIN_CUR, P_MAX_POW + 1):
        period_int[:, column] = optional_micro(values[column - P_ENERGY])
    period_int[:, P_RATE] = NONE
    zone_names = sorted(set(scanned.zones))
    zone_index = {name: i for i, name in enumerate(zone_names)}
    kernel_index = [-1 if t is None else remap[t] for t in tariff_of]
    batch = finish_batch(scanned.session_ids, [max(i, 0) for i in kernel_index], zone_names,
                         [zone_index[z] for z in scanned.zones], scanned.start_ms, scanned.end_ms, [-1] * count,
                         offsets, period_int)
    for row, chosen, index in zip(batch.session_int, tariff_of, kernel_index):
        if chosen is None:
            row[S_ERROR] = ERROR_INDEX["UNKNOWN_TARIFF"]  # skipped by the kernel; priced by the object path
        elif index < 0:
            row[S_ERROR] = ERROR_INDEX["TARIFF_NOT_COMPILABLE"]
    output = price_batch(compiled, batch, policy_codes(policy), want_rows=False)
    documents: list[dict[str, Any] | None] = [None] * count
    fast, fast_ids, fast_tariffs = [], [], []
    for k, chosen in enumerate(tariff_of):
        if chosen is None:
            continue
        tariff, code = tariffs[chosen], int(output.error[k])
        if code == 0 and not tariff.taxes:
            fast.append(k)
            fast_ids.append(scanned.session_ids[k])
            fast_tariffs.append(tariff)
            continue
        outcome = decode_outcome(output, batch, k, 1 + len(tariff.taxes))
        if outcome.error_code == "TARIFF_NOT_COMPILABLE" and chosen in compile_errors:
            outcome = _with_error(outcome, *compile_errors[chosen])
        documents[k] = result_to_json(assemble(scanned.session_ids[k], tariff, outcome, policy))
    for k, document in zip(fast, priced_json(output, fast, fast_ids, fast_tariffs, policy)):
        documents[k] = document
    return documents


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
