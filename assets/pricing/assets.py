"""Dagster assets of the pricing domain: the `tariffs` reference table and the daily `priced_sessions`."""


import datetime as dt

import dagster as dg

from assets.checks import CONSERVATION, conservation_result, schema_result
from assets.partitions import daily
from assets.pricing.priced import price_day
from assets.pricing.tables import PRICED_SESSIONS, TARIFFS
from assets.pricing.tariff_convert import build_tariffs
from assets.pricing.tariff_sources import evse_tariff_context, landing_documents, platform_table_documents
from assets.quarantine import QUARANTINE, quarantine_frame
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource

QUARANTINE_PARTITION = "static"
ONE_ROW_PER_SESSION = "one_row_per_session"


@dg.asset(
    group_name="reference", deps=["operators", "locations", "platform_tariffs"],
    check_specs=[
        dg.AssetCheckSpec(CONSERVATION, asset="tariffs",
                          description="Every tariff document read is accepted or quarantined: in = accepted + quarantined."),
        dg.AssetCheckSpec("schema", asset="tariffs", description="Rows satisfy the tariff model (unique ids, ISO currency)."),
    ],
    kinds={"polars", "parquet"},
)
def tariffs(warehouse: WarehouseResource, landing: LandingZoneResource) -> dg.MaterializeResult:
    """Every tariff of the landing zone (`tariffs/ocpi|platform|eevion/*.json`) and of the platform ingest
    (`platform_tariffs`, latest version of each), converted by its family's adapter into the canonical model
    and stored as canonical OCPI JSON; a tariff the engine refuses is quarantined with the adapter's JSON path."""
    documents, unreadable = landing_documents(landing)
    documents += platform_table_documents(warehouse)
    result = build_tariffs(documents, unreadable, evse_tariff_context(warehouse))
    warehouse.write_partition(TARIFFS, result.table)
    warehouse.write_partition(QUARANTINE, quarantine_frame(result.rejections), source_asset="tariffs",
                              partition_key=QUARANTINE_PARTITION)
    metadata: dict[str, object] = {
        "rows_in": result.rows_in, "rows_accepted": result.table.height, "rows_quarantined": len(result.rejections),
        "dagster/row_count": result.table.height,
    }
    metadata |= {f"tariffs_{family}": count for family, count in result.accepted_by_source.items()}
    for code in sorted({r.reason_code for r in result.rejections}):
        metadata[f"quarantined_{code.lower()}"] = sum(1 for r in result.rejections if r.reason_code == code)
    return dg.MaterializeResult(metadata=metadata, check_results=[
        conservation_result(result.rows_in, result.table.height, len(result.rejections)),
        schema_result(TARIFFS, result.table),
    ])


@dg.asset(
    partitions_def=daily, group_name="pricing", deps=["sessions", "charging_periods", tariffs, "locations"],
    check_specs=[
        dg.AssetCheckSpec(ONE_ROW_PER_SESSION, asset="priced_sessions",
                          description="Every session of the date has exactly one row: priced, or with an error code."),
        dg.AssetCheckSpec("schema", asset="priced_sessions", description="Rows satisfy the priced session model."),
    ],
    kinds={"polars", "numba", "parquet"},
)
def priced_sessions(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every session settling on this date priced by the tariff engine (one numba call per batch of sessions): its tariff (sealed in
    the record, else its tariff_ids, else its EVSE's), its charging periods, the OCPI totals excl./incl. VAT,
    an error code when it cannot be priced, and the difference to the cost the source reported (its reason:
    the `reconciliation` asset)."""
    day = dt.date.fromisoformat(context.partition_key)
    result = price_day(warehouse, day)
    table = result.table
    warehouse.write_partition(PRICED_SESSIONS, table, settlement_date=day)
    unexplained = table.filter(table["error_code"].is_null() & table["total_cost_incl"].is_null()).height
    check = dg.AssetCheckResult(
        check_name=ONE_ROW_PER_SESSION, passed=table.height == result.sessions_in and unexplained == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"sessions_in": result.sessions_in, "rows_out": table.height, "rows_without_amount_or_code": unexplained})
    return dg.MaterializeResult(metadata=result.metadata | {"dagster/row_count": table.height},
                                check_results=[check, schema_result(PRICED_SESSIONS, table)])


PRICING_ASSETS = [tariffs, priced_sessions]
