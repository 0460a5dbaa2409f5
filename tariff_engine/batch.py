"""Batch pricing of canonical objects through the kernels: `price_sessions` (tariffs and sessions in,
`PricingResult`s out) and the helpers every batch entry point shares (compiling each distinct tariff once,
decoding a kernel outcome, the per-session error messages).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Sequence


from .compile import (
    ERROR_CODES, ERROR_INDEX, S_ERROR, CompiledTariffs,
    SessionBatch, TariffCompileError, compile_tariffs, policy_codes,
)
from .encode import encode_session_objects
from .kernels import BatchOutput, price_batch
from .model import BreakdownRow, PricingResult, Session, Tariff
from .money import UnknownCurrencyError, nano_to_decimal
from .outcome import SessionOutcome, assemble, volume_decimal
from .render import priced_results
from .policy import DEFAULT_POLICY, PricingPolicy, warning_codes

# (kernel row slot, dimension, is the reservation's), in the reference's row order
_ROW_ORDER = ((3, "FLAT", False), (5, "FLAT", True), (0, "ENERGY", False), (1, "TIME", False), (2, "PARKING_TIME", False),
              (4, "RESERVATION_TIME", True))
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
            for slot, dimension, reservation in _ROW_ORDER:
                row = output.rows[p, slot]
                if row[0] < 0:
                    continue
                raw, billed = int(row[2]), int(row[3])
                rows.append(BreakdownRow(
                    period_index=int(p - p0), dimension=dimension, element_index=int(row[0]),
                    component_index=int(row[1]), raw_volume=volume_decimal(raw, dimension),
                    billed_volume=volume_decimal(billed, dimension), step_volume=volume_decimal(billed - raw, dimension),
                    price=Decimal(int(row[4])).scaleb(-int(row[7])), excl_vat=nano_to_decimal(int(row[5])),
                    tax=nano_to_decimal(int(row[6])), reservation=reservation,
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
