"""The `partner_changes` and `partners` assets (Chargeprice company documents, seed 004).

Each file of `partners/<D>/` is one company document (read byte for byte; `.gz`/`.zst` read, other file
types UNSUPPORTED_FILE). The registry replays every earlier landing day (small: one document per company
change), so each partition is reproducible whatever order partitions run in; a document that failed on
its own day is skipped on every later replay (assets/ingest/partners/registry.py).
"""

import datetime as dt

import dagster as dg
import polars as pl

from assets.checks import ingest_check_specs, schema_result
from assets.ingest.common import DOCUMENT, Batch, IngestRun, RecordReader, day_files, read_all, write_ingest
from assets.ingest.partners.registry import SOURCE, CompanyVersion, DayOutcome, Registry, apply_day
from assets.ingest.partners.tables import COMPANY_COLUMNS, PARTNER_CHANGES, PARTNERS
from assets.partitions import daily
from assets.quarantine import Rejected
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource

LANDING_SOURCE = "partners"
READER = RecordReader(source=SOURCE, layouts=(DOCUMENT,), document_is_record=True)


def _ms(value: int | None) -> dt.datetime | None:
    # parse_company has checked the range (epoch ms between 1970 and 2100)
    return None if value is None else dt.datetime.fromtimestamp(value / 1000, tz=dt.timezone.utc)


def _row(company: CompanyVersion) -> dict:
    return {"company_id": company.company_id, "version": company.version, "name": company.name, "url": company.url,
            "is_cpo": company.is_cpo, "is_emp": company.is_emp,
            "external_source_mapping": company.external_source_mapping,
            "supported_emps": list(company.supported_emps),
            "created_at": _ms(company.created_at_ms), "updated_at": _ms(company.updated_at_ms)}


def _documents(landing: LandingZoneResource, day: str) -> Batch:
    return read_all(READER, day_files(landing, LANDING_SOURCE, day))


def replay_registry(landing: LandingZoneResource, until: str) -> tuple[Registry, Batch, DayOutcome]:
    """The registry after every landing day up to `until`, with day `until`'s documents and outcome.

    Earlier days' rejections were quarantined on their own day; here they are only skipped.
    """
    registry = Registry({}, {})
    for day in landing.landing_dates(LANDING_SOURCE):
        if day < until:
            apply_day(registry, _documents(landing, day).records)
    documents = _documents(landing, until)
    return registry, documents, apply_day(registry, documents.records)


@dg.asset(partitions_def=daily, group_name="ingest", check_specs=ingest_check_specs("partner_changes"), kinds={"polars"})
def partner_changes(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                    landing: LandingZoneResource) -> dg.MaterializeResult:
    """Company documents (CPOs and EMPs, roaming relations) that landed on this day, applied with the seed's
    optimistic version lock: a stale or skipped version is quarantined as VERSION_CONFLICT."""
    _, documents, outcome = replay_registry(landing, context.partition_key)

    def decided(value, record) -> dict:
        """The replay's decision for the document (apply_day already ran it through the guard)."""
        if record.ref in outcome.rejected:
            rejection = outcome.rejected[record.ref]
            raise Rejected(rejection.reason_code, rejection.reason)
        return _row(outcome.accepted[record.ref])

    run = IngestRun(source=SOURCE, spec=PARTNER_CHANGES, parse=decided)
    result = run.add_all([documents]).finish()
    files = len(day_files(landing, LANDING_SOURCE, context.partition_key))
    return write_ingest(context, warehouse, result, files=files)


@dg.asset(partitions_def=daily, group_name="ingest", deps=[partner_changes],
          check_specs=[dg.AssetCheckSpec("schema", asset="partners")], kinds={"polars"})
def partners(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
             landing: LandingZoneResource) -> dg.MaterializeResult:
    """The partner registry as of the end of this landing day: each CPO/EMP at its latest accepted version."""
    registry, _, _ = replay_registry(landing, context.partition_key)
    rows = [_row(registry.companies[cid]) for cid in sorted(registry.companies)]
    frame = pl.DataFrame(rows, schema=COMPANY_COLUMNS) if rows else pl.DataFrame(schema=COMPANY_COLUMNS)
    warehouse.write_partition(PARTNERS, frame, as_of_date=dt.date.fromisoformat(context.partition_key))
    return dg.MaterializeResult(
        metadata={"partners": frame.height, "cpos": int(frame["is_cpo"].sum()), "emps": int(frame["is_emp"].sum()),
                  "dagster/row_count": frame.height},
        check_results=[schema_result(PARTNERS, frame)],
    )
