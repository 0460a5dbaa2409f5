"""The `partner_changes` and `partners` assets (Chargeprice company documents, seed 004)."""

import datetime as dt

import dagster as dg
import polars as pl

from assets.checks import conservation_result, ingest_check_specs, schema_result
from assets.ingest.partners.registry import CompanyVersion, apply_day
from assets.ingest.partners.tables import COMPANY_COLUMNS, PARTNER_CHANGES, PARTNERS
from assets.partitions import daily
from assets.quarantine import QUARANTINE, Rejection, quarantine_frame
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource

LANDING_SOURCE = "partners"


def _documents(landing: LandingZoneResource, day: str) -> list[tuple[str, str]]:
    root = landing.root_path
    return [(str(p.relative_to(root)), p.read_text(encoding="utf-8", errors="replace"))
            for p in landing.files(LANDING_SOURCE, day, suffixes=(".json",))]


def _ms(value: int | None) -> dt.datetime | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    return dt.datetime.fromtimestamp(value / 1000, tz=dt.timezone.utc)


def _row(company: CompanyVersion) -> dict:
    return {"company_id": company.company_id, "version": company.version, "name": company.name, "url": company.url,
            "is_cpo": company.is_cpo, "is_emp": company.is_emp,
            "external_source_mapping": company.external_source_mapping,
            "supported_emps": list(company.supported_emps),
            "created_at": _ms(company.created_at_ms), "updated_at": _ms(company.updated_at_ms)}


def replay_registry(landing: LandingZoneResource, until: str) -> tuple[dict[str, CompanyVersion], list]:
    """The registry after every landing day before `until`, and day `until`'s outcome.

    Replaying from the landing zone (small: one document per company change) makes each partition
    reproducible whatever order partitions are materialized in.
    """
    state: dict[str, CompanyVersion] = {}
    for day in landing.landing_dates(LANDING_SOURCE):
        if day < until:
            apply_day(state, _documents(landing, day))
    documents = _documents(landing, until)
    return state, [documents, apply_day(state, documents)]


@dg.asset(partitions_def=daily, group_name="ingest", check_specs=ingest_check_specs("partner_changes"), kinds={"polars"})
def partner_changes(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                    landing: LandingZoneResource) -> dg.MaterializeResult:
    """Company documents (CPOs and EMPs, roaming relations) that landed on this day, applied with the seed's
    optimistic version lock: a stale or skipped version is quarantined as VERSION_CONFLICT."""
    state, (documents, outcome) = replay_registry(landing, context.partition_key)
    day = dt.date.fromisoformat(context.partition_key)
    accepted = pl.DataFrame(
        [{"record_ref": ref, **_row(c), "raw_payload": dict(documents)[ref]} for ref, c in outcome.accepted],
        schema={k: v for k, v in PARTNER_CHANGES.schema.items() if k != "landing_date"},
    )
    rejected = quarantine_frame([Rejection("company_document", ref, code, reason, text)
                                 for ref, code, reason, text in outcome.rejected])
    warehouse.write_partition(PARTNER_CHANGES, accepted, landing_date=day)
    warehouse.write_partition(QUARANTINE, rejected, source_asset="partner_changes", partition_key=context.partition_key)
    return dg.MaterializeResult(
        metadata={"rows_in": len(documents), "rows_accepted": accepted.height, "rows_quarantined": rejected.height,
                  "dagster/row_count": accepted.height},
        check_results=[conservation_result(len(documents), accepted.height, rejected.height),
                       schema_result(PARTNER_CHANGES, accepted),
                       schema_result(QUARANTINE, rejected, check_name="quarantine_schema")],
    )


@dg.asset(partitions_def=daily, group_name="ingest", deps=[partner_changes],
          check_specs=[dg.AssetCheckSpec("schema", asset="partners")], kinds={"polars"})
def partners(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
             landing: LandingZoneResource) -> dg.MaterializeResult:
    """The partner registry as of the end of this landing day: each CPO/EMP at its latest accepted version."""
    state, _ = replay_registry(landing, context.partition_key)
    rows = [_row(state[cid]) for cid in sorted(state)]
    frame = pl.DataFrame(rows, schema=COMPANY_COLUMNS) if rows else pl.DataFrame(schema=COMPANY_COLUMNS)
    warehouse.write_partition(PARTNERS, frame, as_of_date=dt.date.fromisoformat(context.partition_key))
    return dg.MaterializeResult(
        metadata={"partners": frame.height, "cpos": int(frame["is_cpo"].sum()), "emps": int(frame["is_emp"].sum()),
                  "dagster/row_count": frame.height},
        check_results=[schema_result(PARTNERS, frame)],
    )
