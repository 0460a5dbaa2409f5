"""The partner settlement of one month, computed from sessions, their prices and electricity cost.

Per session under the contract version in force on its settlement date (seed 001 §6.3 rules):

    shared    = revenue_excl - fixed fee (if excludeConnectionFee) - electricity cost (if deducted)
    share     = shared × (AC or DC share %) / 100
    reimbursed= electricity cost (if 'reimburse')
    fees      = per-session fee (AC/DC) + kWh × per-kWh fee (AC/DC) + revenue_incl × handling % / 100

Each per-session amount is rounded half-up to 4 decimals (the warehouse's money scale); a month's component
is the sum of its sessions' amounts rounded half-up to the currency's minor unit, and

    net_payable = share + reimbursed - session fees - kWh fees - handling fees - monthly platform fee

from the rounded components, so the printed figures add up to the cent. A session that cannot be settled
(no contract, not priced, another currency, unknown electricity cost when the contract needs it, unknown
AC/DC, a gross-priced tariff whose issuer has no VAT rate: vat.py) is kept in the child table with its status and reason, never dropped.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import polars as pl

from assets.partner_settlement.contracts import Contract, contract_for
from assets.partner_settlement.vat import is_gross_priced
from assets.partner_settlement.tables import (PARTNER_SETTLEMENT_SESSIONS, PARTNER_SETTLEMENTS, SESSION_AMOUNTS,
                                              SETTLEMENT_AMOUNTS)
from tariff_engine.money import minor_units

FOUR = Decimal("0.0001")
ZERO = Decimal(0)
HUNDRED = Decimal(100)


def round4(value: Decimal) -> Decimal:
    return value.quantize(FOUR, rounding=ROUND_HALF_UP)


def round_money(value: Decimal, currency: str) -> Decimal:
    """Half-up to the currency's minor unit (kept at scale 4 for the DECIMAL(18,4) columns)."""
    return value.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP).quantize(FOUR)


def partner_sessions(sessions: pl.DataFrame) -> pl.DataFrame:
    """Sessions charged by an eMSP partner's customer: an eMSP that is not the operator itself (a CPO is its
    own eMSP for its app customers, who are direct customers)."""
    return sessions.filter(pl.col("emsp_id").is_not_null() & (pl.col("emsp_id") != pl.col("operator_id"))
                           & ~pl.col("is_credit").fill_null(False))


@dataclass
class SessionOutcome:
    row: dict
    contract: Contract | None


def _current_type(power_type: str | None) -> str | None:
    if power_type is None:
        return None
    return "DC" if power_type.upper().startswith("DC") else "AC" if power_type.upper().startswith("AC") else None


def _settle_session(row: dict, contract: Contract | None) -> dict:
    """The child row of one session: its amounts under the contract, or a status saying why there are none."""
    out = {name: None for name in SESSION_AMOUNTS} | {
        "status": "SETTLED", "reason": None,
        "contract_id": contract.contract_id if contract else None,
        "contract_version": contract.version if contract else None,
    }
    revenue, paid = row["total_cost_excl"], row["total_cost_incl"]
    gross_only = is_gross_priced(row["tax_included"], revenue, paid)
    if gross_only and row["issuer_vat"] is not None:
        revenue = round4(paid * HUNDRED / (HUNDRED + row["issuer_vat"]))  # vat.py: the issuer's rate
    if revenue is not None:
        out["revenue_excl_vat"], out["revenue_incl_vat"] = revenue, paid
    if contract is None:
        return out | {"status": "NO_CONTRACT",
                      "reason": f"no contract between {row['operator_id']} and {row['emsp_id']} on {row['settlement_date']}"}
    if row["error_code"] is not None or revenue is None:
        return out | {"status": "NOT_PRICED", "reason": f"the session was not priced: {row['error_code']}"}
    if gross_only and row["issuer_vat"] is None:
        return out | {"revenue_excl_vat": None, "status": "VAT_RATE_UNKNOWN",
                      "reason": f"gross-priced tariff {row['tariff_id']} and {row['operator_id']} has no VAT rate"}
    if row["price_currency"] != contract.currency:
        return out | {"status": "CURRENCY_MISMATCH",
                      "reason": f"priced in {row['price_currency']}, contract in {contract.currency}"}
    current = row["current_type"]
    if current is None:
        return out | {"status": "UNKNOWN_CURRENT_TYPE", "reason": f"EVSE {row['evse_uid']} has no AC/DC power type"}
    electricity = ZERO
    if contract.electricity_cost != "none":
        if row["electricity_cost"] is None or row["electricity_currency"] != contract.currency:
            return out | {"status": "ELECTRICITY_COST_UNKNOWN",
                          "reason": "the contract deducts electricity but the session's cost is unknown"}
        electricity = row["electricity_cost"]
    dc = current == "DC"
    fixed = (row["total_fixed_cost_excl"] or ZERO) if contract.exclude_connection_fee else ZERO
    if gross_only:
        fixed = round4(fixed * HUNDRED / (HUNDRED + row["issuer_vat"]))
    shared = revenue - fixed - electricity
    kwh = row["energy_wh"] / 1000
    return out | {
        "connection_fee_excluded": fixed,
        "electricity_cost": electricity,
        "shared_revenue": shared,
        "partner_share": round4(shared * (contract.share_percent_dc if dc else contract.share_percent_ac) / HUNDRED),
        "electricity_reimbursed": electricity if contract.electricity_cost == "reimburse" else ZERO,
        "session_fee": contract.fee_per_session_dc if dc else contract.fee_per_session_ac,
        "kwh_fee": round4(kwh * (contract.fee_per_kwh_dc if dc else contract.fee_per_kwh_ac)),
        "handling_fee": round4(paid * contract.handling_percent / HUNDRED),
    }


def _joined(sessions: pl.DataFrame, priced: pl.DataFrame, electricity: pl.DataFrame, evses: pl.DataFrame,
            tax_included: pl.DataFrame) -> pl.DataFrame:
    prices = priced.select("session_id", pl.col("currency").alias("price_currency"), "error_code", "tariff_id",
                           "total_cost_excl", "total_cost_incl", "total_fixed_cost_excl")
    costs = electricity.select("session_id", "electricity_cost", pl.col("currency").alias("electricity_currency"))
    kinds = evses.select("location_id", "evse_uid", "power_type").unique(["location_id", "evse_uid"], keep="first")
    return (partner_sessions(sessions)
            .select("session_id", "source", "source_id", "operator_id", "location_id", "evse_uid", "emsp_id",
                    "settlement_date", pl.col("energy_wh").round(3))
            .join(prices, on="session_id", how="left")
            .join(costs, on="session_id", how="left")
            .join(kinds, on=["location_id", "evse_uid"], how="left")
            .join(tax_included, on="tariff_id", how="left")
            .sort("session_id"))


def settle_month(month: dt.date, sessions: pl.DataFrame, priced: pl.DataFrame, electricity: pl.DataFrame,
                 evses: pl.DataFrame, contracts: list[Contract], partner_names: dict[str, str],
                 tax_included: pl.DataFrame | None = None, issuer_vat: dict[str, Decimal] | None = None,
                 ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(partner_settlements, partner_settlement_sessions) of `month` (both without the month column).

    `tax_included`: tariff_id → tax_included frame; `issuer_vat`: operator → VAT % (see vat.py).
    """
    if tax_included is None:
        tax_included = pl.DataFrame(schema={"tariff_id": pl.String(), "tax_included": pl.String()})
    children: list[dict] = []
    for row in _joined(sessions, priced, electricity, evses, tax_included).iter_rows(named=True):
        row["issuer_vat"] = (issuer_vat or {}).get(row["operator_id"])
        row["current_type"] = _current_type(row.pop("power_type"))
        row["energy_wh"] = Decimal(str(row["energy_wh"] or 0))
        contract = contract_for(contracts, row["operator_id"], row["emsp_id"], row["settlement_date"])
        child = _settle_session(row, contract)
        currency = contract.currency if contract else row["price_currency"]
        children.append({"operator_id": row["operator_id"], "partner_id": row["emsp_id"], "currency": currency,
                         "session_id": row["session_id"], "source": row["source"], "source_id": row["source_id"],
                         "settlement_date": row["settlement_date"], "current_type": row["current_type"],
                         "energy_wh": row["energy_wh"], **child})
    child_frame = pl.DataFrame(children, schema={c: t for c, t in PARTNER_SETTLEMENT_SESSIONS.schema.items()
                                                 if c != "billing_month"}, orient="row") if children else \
        PARTNER_SETTLEMENT_SESSIONS.empty_frame().drop("billing_month")
    return _summarise(month, children, contracts, partner_names), child_frame


def _summarise(month: dt.date, children: list[dict], contracts: list[Contract],
               partner_names: dict[str, str]) -> pl.DataFrame:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for child in children:
        groups[(child["operator_id"], child["partner_id"], child["currency"] or "")].append(child)
    rows = []
    for (operator_id, partner_id, currency), members in sorted(groups.items()):
        settled = [m for m in members if m["status"] == "SETTLED"]
        covered = any(m["status"] != "NO_CONTRACT" for m in members)
        # Versions are month-aligned, so every covered session of the month names the same version.
        named = next(((m["contract_id"], m["contract_version"]) for m in members if m["contract_id"]), None)
        contract = next(c for c in contracts if (c.contract_id, c.version) == named) if named else None
        counted = settled if covered else members
        cur = currency or None
        sums = {name: sum((m[key] or ZERO for m in counted), ZERO) for name, key in (
            ("revenue_excl_vat", "revenue_excl_vat"), ("revenue_incl_vat", "revenue_incl_vat"),
            ("connection_fees_excluded", "connection_fee_excluded"), ("electricity_cost", "electricity_cost"),
            ("shared_revenue", "shared_revenue"), ("partner_share", "partner_share"),
            ("electricity_reimbursed", "electricity_reimbursed"), ("session_fees", "session_fee"),
            ("kwh_fees", "kwh_fee"), ("handling_fees", "handling_fee"))}
        amounts = {k: (round_money(v, cur) if cur else v) for k, v in sums.items()}
        if covered:
            amounts["platform_fee"] = round_money(contract.monthly_platform_fee, contract.currency)
            amounts["net_payable"] = (amounts["partner_share"] + amounts["electricity_reimbursed"] - amounts["session_fees"]
                                      - amounts["kwh_fees"] - amounts["handling_fees"] - amounts["platform_fee"])
        else:
            for key in ("connection_fees_excluded", "electricity_cost", "shared_revenue", "partner_share",
                        "electricity_reimbursed", "session_fees", "kwh_fees", "handling_fees"):
                amounts[key] = None
            amounts["platform_fee"] = amounts["net_payable"] = None
        rows.append({
            "operator_id": operator_id, "partner_id": partner_id, "partner_name": partner_names.get(partner_id),
            "currency": cur, "status": "SETTLED" if covered else "NO_CONTRACT",
            "contract_id": contract.contract_id if contract else None,
            "contract_version": contract.version if contract else None,
            "sessions": len(counted),
            "sessions_ac": sum(1 for m in counted if m["current_type"] == "AC"),
            "sessions_dc": sum(1 for m in counted if m["current_type"] == "DC"),
            "sessions_not_settled": len(members) - len(settled) if covered else 0,
            "energy_wh": sum((m["energy_wh"] for m in counted), ZERO),
            **{name: amounts[name] for name in SETTLEMENT_AMOUNTS},
        })
    # A contract in force without any session in the month still owes its monthly platform fee.
    for contract in sorted(contracts, key=lambda c: (c.operator_id, c.partner_id)):
        if contract.covers(month) and (contract.operator_id, contract.partner_id, contract.currency) not in groups:
            fee = round_money(contract.monthly_platform_fee, contract.currency)
            rows.append({"operator_id": contract.operator_id, "partner_id": contract.partner_id,
                         "partner_name": partner_names.get(contract.partner_id), "currency": contract.currency,
                         "status": "SETTLED", "contract_id": contract.contract_id, "contract_version": contract.version,
                         "sessions": 0, "sessions_ac": 0, "sessions_dc": 0, "sessions_not_settled": 0,
                         "energy_wh": ZERO, **{name: ZERO for name in SETTLEMENT_AMOUNTS},
                         "platform_fee": fee, "net_payable": -fee})
    schema = {c: t for c, t in PARTNER_SETTLEMENTS.schema.items() if c != "billing_month"}
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else PARTNER_SETTLEMENTS.empty_frame().drop("billing_month")
