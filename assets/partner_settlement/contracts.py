"""Partner contracts: parse and validate the documents of `contracts/<day>/*.json` (docs/contracts.md).

A contract is the agreement between one of our operators (the CPO, `operatorId`) and an eMSP partner
(`partnerId`), in the revenue-sharing terms of the platform's partner contracts (seed 001 §6.3), versioned
by validity dates. Every document is accepted or quarantined with one of these reason codes:

| code | rule |
|---|---|
| MALFORMED_JSON | the file is not a JSON object |
| MISSING_FIELD | a required field is absent or null |
| INVALID_VALUE | a field has the wrong type, an unknown enum value, a negative amount or a percentage outside 0-100 |
| INVALID_CURRENCY | `currency` is not an active ISO 4217 code |
| INVALID_PERIOD | `validFrom` is not the 1st of a month, `validTo` not the last day of one, or ends before it starts |
| REIMBURSE_WITHOUT_DEDUCT | `reimburseForElectricityCost` without `deductElectricityCost` (the seed requires both) |
| DUPLICATE_VERSION | the same (`contractId`, `version`) was delivered before |
| OVERLAPPING_VALIDITY | the version covers a month that an accepted version of the same operator and partner covers |

Amounts are read as exact decimals (JSON numbers and decimal strings both accepted, never floats).
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from assets.quarantine import Rejected, Rejection
from tariff_engine.money import UnknownCurrencyError, minor_units

ELECTRICITY_MODES = ("none", "deduct", "reimburse")
VAT_TREATMENTS = ("standard", "reverse_charge", "exempt")
LINE_MODES = ("session", "aggregated")
SOURCE = "contract_file"


@dataclass(frozen=True)
class Contract:
    """One accepted contract version; percentages are 0-100, amounts excl. VAT in `currency`."""

    contract_id: str
    version: int
    operator_id: str
    partner_id: str
    title: str
    valid_from: dt.date
    valid_to: dt.date | None
    currency: str
    share_percent_ac: Decimal
    share_percent_dc: Decimal
    exclude_connection_fee: bool
    electricity_cost: str  # none | deduct | reimburse
    fee_per_session_ac: Decimal
    fee_per_session_dc: Decimal
    fee_per_kwh_ac: Decimal
    fee_per_kwh_dc: Decimal
    handling_percent: Decimal
    monthly_platform_fee: Decimal
    vat_treatment: str
    invoice_lines: str
    record_ref: str
    raw_payload: str

    def covers(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


def _field(doc: dict[str, Any], name: str, required: bool = True) -> Any:
    value = doc.get(name)
    if value is None and required:
        raise Rejected("MISSING_FIELD", f"{name} is required")
    return value


def _text(doc: dict[str, Any], name: str) -> str:
    value = _field(doc, name)
    if not isinstance(value, str) or not value.strip():
        raise Rejected("INVALID_VALUE", f"{name} must be a non-empty string")
    return value


def _decimal(doc: dict[str, Any], name: str, default: str | None = None, maximum: Decimal | None = None) -> Decimal:
    value = doc.get(name)
    if value is None:
        if default is None:
            raise Rejected("MISSING_FIELD", f"{name} is required")
        return Decimal(default)
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise Rejected("INVALID_VALUE", f"{name} must be a decimal number, got {value!r}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise Rejected("INVALID_VALUE", f"{name} is not a number: {value!r}") from None
    if not number.is_finite() or number < 0:
        raise Rejected("INVALID_VALUE", f"{name} must be a finite amount >= 0, got {value}")
    if maximum is not None and number > maximum:
        raise Rejected("INVALID_VALUE", f"{name} must be at most {maximum}, got {value}")
    return number


def _flag(doc: dict[str, Any], name: str) -> bool:
    value = doc.get(name, False)
    if not isinstance(value, bool):
        raise Rejected("INVALID_VALUE", f"{name} must be true or false, got {value!r}")
    return value


def _choice(doc: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = doc.get(name, default)
    if value not in allowed:
        raise Rejected("INVALID_VALUE", f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _date(doc: dict[str, Any], name: str, required: bool) -> dt.date | None:
    value = _field(doc, name, required)
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else _raise_date(name, value)
    except ValueError:
        raise Rejected("INVALID_VALUE", f"{name} is not a YYYY-MM-DD date: {value!r}") from None


def _raise_date(name: str, value: Any) -> dt.date:
    raise Rejected("INVALID_VALUE", f"{name} is not a YYYY-MM-DD date: {value!r}")


def _month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def parse_contract(text: str, record_ref: str) -> Contract:
    """One contract document, validated on its own (overlaps are checked by `accept_contracts`)."""
    try:
        doc = json.loads(text, parse_float=Decimal)
    except ValueError as err:
        raise Rejected("MALFORMED_JSON", f"not JSON: {err}") from None
    if not isinstance(doc, dict):
        raise Rejected("MALFORMED_JSON", "a contract document must be a JSON object")
    version = _field(doc, "version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise Rejected("INVALID_VALUE", f"version must be an integer >= 1, got {version!r}")
    if _choice(doc, "contractType", ("revenueSharing",), "revenueSharing") != "revenueSharing":
        raise Rejected("INVALID_VALUE", "contractType")
    currency = _text(doc, "currency")
    try:
        minor_units(currency)
    except UnknownCurrencyError as err:
        raise Rejected("INVALID_CURRENCY", str(err)) from None
    valid_from = _date(doc, "validFrom", True)
    valid_to = _date(doc, "validTo", False)
    if valid_from.day != 1:
        raise Rejected("INVALID_PERIOD", f"validFrom must be the 1st of a month, got {valid_from}")
    if valid_to is not None and (valid_to != _month_end(valid_to) or valid_to < valid_from):
        raise Rejected("INVALID_PERIOD", f"validTo must be the last day of a month on or after validFrom, got {valid_to}")
    sharing = _field(doc, "revenueSharing")
    if not isinstance(sharing, dict):
        raise Rejected("INVALID_VALUE", "revenueSharing must be an object")
    hundred = Decimal(100)
    deduct = _flag(sharing, "deductElectricityCost")
    reimburse = _flag(sharing, "reimburseForElectricityCost")
    if reimburse and not deduct:
        raise Rejected("REIMBURSE_WITHOUT_DEDUCT", "reimburseForElectricityCost requires deductElectricityCost")
    return Contract(
        contract_id=_text(doc, "contractId"), version=version,
        operator_id=_text(doc, "operatorId"), partner_id=_text(doc, "partnerId"),
        title=doc.get("title") if isinstance(doc.get("title"), str) else "",
        valid_from=valid_from, valid_to=valid_to, currency=currency,
        share_percent_ac=_decimal(sharing, "partnerSharePercentageAcEvse", maximum=hundred),
        share_percent_dc=_decimal(sharing, "partnerSharePercentageDcEvse", maximum=hundred),
        exclude_connection_fee=_flag(sharing, "excludeConnectionFee"),
        electricity_cost="reimburse" if reimburse else "deduct" if deduct else "none",
        fee_per_session_ac=_decimal(sharing, "fixedFeePerSessionAc", "0"),
        fee_per_session_dc=_decimal(sharing, "fixedFeePerSessionDc", "0"),
        fee_per_kwh_ac=_decimal(sharing, "feePerKwhAc", "0"),
        fee_per_kwh_dc=_decimal(sharing, "feePerKwhDc", "0"),
        handling_percent=_decimal(sharing, "handlingFee", "0", maximum=hundred),
        monthly_platform_fee=_decimal(doc, "monthlyPlatformFee", "0"),
        vat_treatment=_choice(doc, "vatTreatment", VAT_TREATMENTS, "standard"),
        invoice_lines=_choice(doc, "invoiceLines", LINE_MODES, "session"),
        record_ref=record_ref, raw_payload=text,
    )


def _overlaps(a: Contract, b: Contract) -> bool:
    far = dt.date.max
    return a.valid_from <= (b.valid_to or far) and b.valid_from <= (a.valid_to or far)


def accept_contracts(documents: list[tuple[str, str]]) -> tuple[list[Contract], list[Rejection]]:
    """Validate `(record_ref, text)` documents in delivery order; returns accepted versions and rejections.

    A document is checked against the versions accepted before it, so the first delivery wins a conflict
    and the result does not depend on anything but the delivery order.
    """
    accepted: list[Contract] = []
    rejected: list[Rejection] = []
    for ref, text in documents:
        try:
            contract = parse_contract(text, ref)
            if any(c.contract_id == contract.contract_id and c.version == contract.version for c in accepted):
                raise Rejected("DUPLICATE_VERSION", f"{contract.contract_id} version {contract.version} was delivered before")
            clash = next((c for c in accepted if (c.operator_id, c.partner_id) == (contract.operator_id, contract.partner_id)
                          and _overlaps(c, contract)), None)
            if clash is not None:
                raise Rejected("OVERLAPPING_VALIDITY",
                               f"{contract.operator_id}/{contract.partner_id} is already covered by {clash.contract_id} "
                               f"v{clash.version} from {clash.valid_from} to {clash.valid_to or 'open end'}")
            accepted.append(contract)
        except Rejected as err:
            rejected.append(Rejection(SOURCE, ref, err.code, err.reason, text))
    return accepted, rejected


def contract_for(contracts: list[Contract], operator_id: str, partner_id: str, day: dt.date) -> Contract | None:
    """The version in force between the operator and the partner on `day` (accepted versions never overlap)."""
    return next((c for c in contracts if c.operator_id == operator_id and c.partner_id == partner_id and c.covers(day)),
                None)
