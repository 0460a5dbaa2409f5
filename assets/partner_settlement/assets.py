"""Dagster assets of the partner settlement: `partner_contracts` and the monthly `partner_settlements`."""


import dagster as dg
import polars as pl

from assets.checks import CONSERVATION, conservation_result, schema_result
from assets.partner_settlement import inputs
from assets.partner_settlement.compute import partner_sessions, settle_month
from assets.partner_settlement.contracts import Contract, accept_contracts
from assets.partner_settlement.months import month_bounds, monthly
from assets.partner_settlement.tables import PARTNER_CONTRACTS, PARTNER_SETTLEMENT_SESSIONS, PARTNER_SETTLEMENTS
from assets.partner_settlement.vat import issuer_vat_rates, tariff_tax_included
from assets.quarantine import QUARANTINE, quarantine_frame
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource

GROUP = "partner_settlement"
CONTRACTS_SOURCE = "contracts"
QUARANTINE_PARTITION = "static"
EVERY_SESSION = "every_partner_session_accounted"


def landed_contract_documents(landing: LandingZoneResource) -> list[tuple[str, str]]:
    """(record_ref, text) of every contract file, in delivery order (landing date, then file name)."""
    docs = []
    for day in landing.landing_dates(CONTRACTS_SOURCE):
        for path in landing.files(CONTRACTS_SOURCE, day, suffixes=(".json",)):
            ref = str(path.relative_to(landing.root_path))
            docs.append((ref, path.read_bytes().decode("utf-8", errors="replace")))
    return docs


def contracts_frame(contracts: list[Contract]) -> pl.DataFrame:
    rows = [{name: getattr(c, name) for name in PARTNER_CONTRACTS.schema} for c in contracts]
    return pl.DataFrame(rows, schema=PARTNER_CONTRACTS.schema, orient="row") if rows else PARTNER_CONTRACTS.empty_frame()


def read_contracts(warehouse: WarehouseResource) -> list[Contract]:
    """The accepted contract versions back from the warehouse, as `Contract`s."""
    return [Contract(**row) for row in warehouse.read("partner_contracts").iter_rows(named=True)]


@dg.asset(
    group_name=GROUP,
    check_specs=[dg.AssetCheckSpec(CONSERVATION, asset="partner_contracts",
                                   description="Every contract document is accepted or quarantined."),
                 dg.AssetCheckSpec("schema", asset="partner_contracts", description="Contract rows satisfy their model.")],
    kinds={"polars", "parquet"},
)
def partner_contracts(warehouse: WarehouseResource, landing: LandingZoneResource) -> dg.MaterializeResult:
    """Partner contracts (operator × eMSP revenue sharing: AC/DC share %, per-session and per-kWh fees, handling %,
    electricity cost deduction or reimbursement, monthly platform fee, VAT treatment) from
    `contracts/<day>/*.json` (docs/contracts.md), versioned by validity months. A bad document is quarantined
    with a reason code (MISSING_FIELD, INVALID_VALUE, INVALID_PERIOD, OVERLAPPING_VALIDITY, …)."""
    documents = landed_contract_documents(landing)
    accepted, rejected = accept_contracts(documents)
    table = contracts_frame(accepted)
    warehouse.write_partition(PARTNER_CONTRACTS, table)
    warehouse.write_partition(QUARANTINE, quarantine_frame(rejected), source_asset="partner_contracts",
                              partition_key=QUARANTINE_PARTITION)
    metadata: dict[str, object] = {"rows_in": len(documents), "rows_accepted": table.height,
                                   "rows_quarantined": len(rejected), "dagster/row_count": table.height}
    for code in sorted({r.reason_code for r in rejected}):
        metadata[f"quarantined_{code.lower()}"] = sum(1 for r in rejected if r.reason_code == code)
    return dg.MaterializeResult(metadata=metadata, check_results=[
        conservation_result(len(documents), table.height, len(rejected)),
        schema_result(PARTNER_CONTRACTS, table),
    ])


def _markdown(table: pl.DataFrame) -> str:
    lines = ["| operator | partner | status | contract | sessions | revenue excl. VAT | net payable |", "|---|---|---|---|---|---|---|"]
    for r in table.iter_rows(named=True):
        contract = f"{r['contract_id']} v{r['contract_version']}" if r["contract_id"] else "—"
        lines.append(f"| {r['operator_id']} | {r['partner_id']} | {r['status']} | {contract} | {r['sessions']} | "
                     f"{r['revenue_excl_vat']} {r['currency'] or ''} | {r['net_payable'] if r['net_payable'] is not None else '—'} |")
    return "\n".join(lines)


@dg.asset(
    partitions_def=monthly, group_name=GROUP,
    deps=["sessions", "priced_sessions", "session_electricity_cost", "evses", "operators", "tariffs", "partners",
          partner_contracts],
    check_specs=[
        dg.AssetCheckSpec(EVERY_SESSION, asset="partner_settlements",
                          description="Every partner session of the month is in partner_settlement_sessions: "
                                      "partner sessions in = settled + not settled (with a reason) + no contract."),
        dg.AssetCheckSpec("schema", asset="partner_settlements", description="Settlement rows satisfy their model."),
    ],
    kinds={"polars", "parquet"},
)
def partner_settlements(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Per operator × eMSP partner × month under the contract version in force: sessions, Wh, revenue, each
    deduction (connection fee kept, electricity cost, share %, per-session and per-kWh fees, handling %,
    platform fee) and the net payable, exact to the cent; the covered CDRs/sessions are listed in
    `partner_settlement_sessions`. Partners without a contract are reported as NO_CONTRACT, never dropped."""
    first, last = month_bounds(context.partition_key)
    sessions = inputs.month_sessions(warehouse, first, last)
    table, children = settle_month(first, sessions, inputs.month_priced(warehouse, first, last),
                                   inputs.month_electricity(warehouse, first, last), inputs.evses(warehouse),
                                   read_contracts(warehouse), inputs.partner_names(warehouse),
                                   tariff_tax_included(warehouse.read("tariffs")),
                                   issuer_vat_rates(warehouse.read("operators")))
    warehouse.write_partition(PARTNER_SETTLEMENTS, table, billing_month=first)
    warehouse.write_partition(PARTNER_SETTLEMENT_SESSIONS, children, billing_month=first)
    expected = partner_sessions(sessions).height
    by_status = children.group_by("status").len().sort("status")
    metadata: dict[str, object] = {"partner_sessions": expected, "settlement_rows": table.height,
                                   "dagster/row_count": table.height,
                                   "summary": dg.MetadataValue.md(_markdown(table))}
    metadata |= {f"sessions_{s.lower()}": n for s, n in by_status.iter_rows()}
    for currency, net in (table.filter(pl.col("status") == "SETTLED").group_by("currency")
                          .agg(pl.col("net_payable").sum()).sort("currency").iter_rows()):
        metadata[f"net_payable_{currency}"] = float(net)
    check = dg.AssetCheckResult(check_name=EVERY_SESSION, passed=children.height == expected
                                and children["session_id"].n_unique() == expected,
                                severity=dg.AssetCheckSeverity.ERROR,
                                metadata={"partner_sessions_in": expected, "rows_out": children.height})
    return dg.MaterializeResult(metadata=metadata, check_results=[check, schema_result(PARTNER_SETTLEMENTS, table)])
