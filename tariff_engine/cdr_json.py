"""OCPI JSON in, JSON out: `price_cdrs(cdrs, tariffs, timezone=None)` prices parsed CDR dicts through the
kernels (well-formed CDRs scanned straight into columns, the rest through the object path that words the
errors) and `result_to_json` renders a result as OCPI-shaped JSON.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping, Sequence

import numpy as np


from .adapters.ocpi import (
    OcpiFormatError, TimezoneUnresolvedError, cdr_tariff_ids, parse_cdr, parse_tariff, snake_keys,
)
from .cdr_scan import UNREADABLE, ScannedCdrs, own_tariff_id, scan_cdrs
from .compile import (
    ERROR_INDEX, NONE, P_ENERGY, P_MAX_POW, P_MIN_CUR, P_PARKING, P_RATE, P_RESERVATION, P_START, P_TIME,
    S_ERROR, policy_codes,
)
from .encode import ENERGY_FACTOR, HOURS_FACTOR, finish_batch, nonzero_volumes, optional_micro
from .kernels import price_batch
from .model import PricingResult, Session, Tariff

from .outcome import assemble
from .render import priced_json
from .policy import DEFAULT_POLICY, PricingPolicy

from .batch import _compile_each, _with_error, decode_outcome, price_sessions

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
