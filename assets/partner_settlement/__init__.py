"""Partner settlement (roaming CPO ↔ eMSP): contracts from the landing zone and the monthly settlement per
operator × partner under the contract in force (`partner_settlements`, `partner_settlement_sessions`)."""

from __future__ import annotations

import dagster as dg
import polars as pl

from assets.partner_settlement.assets import partner_contracts, partner_settlements
from assets.partner_settlement.months import monthly
from assets.partner_settlement.tables import TABLES
from resources.warehouse import WarehouseResource

defs = dg.Definitions(assets=[partner_contracts, partner_settlements])


def partner_settlement_lines(warehouse: WarehouseResource) -> list[str]:
    """The demo summary's partner settlement section: one line per operator × partner × month."""
    table = warehouse.read("partner_settlements").sort("billing_month", "operator_id", "partner_id", "currency")
    if table.is_empty():
        return ["Partner settlements: none (no partner sessions settled in a closed month)"]
    lines = [f"Partner settlements ({table.height} rows; contracts: {warehouse.read('partner_contracts').height} versions)"]
    for r in table.iter_rows(named=True):
        head = f"  {r['billing_month']:%Y-%m} {r['operator_id']} → {r['partner_id']} ({r['partner_name'] or '?'})"
        if r["status"] != "SETTLED":
            lines.append(f"{head}: NO CONTRACT, {r['sessions']} sessions, revenue {r['revenue_excl_vat']:.2f} {r['currency'] or ''} reported, nothing payable")
            continue
        lines.append(f"{head}: {r['contract_id']} v{r['contract_version']}, {r['sessions']} sessions, "
                     f"{r['energy_wh'] / 1000:.3f} kWh, revenue {r['revenue_excl_vat']:.2f}, share {r['partner_share']:.2f}, "
                     f"fees {r['session_fees'] + r['kwh_fees'] + r['handling_fees'] + r['platform_fee']:.2f}, "
                     f"net payable {r['net_payable']:.2f} {r['currency']}"
                     + (f" ({r['sessions_not_settled']} not settled)" if r["sessions_not_settled"] else ""))
    return lines


__all__ = ["TABLES", "defs", "monthly", "partner_contracts", "partner_settlement_lines", "partner_settlements"]
