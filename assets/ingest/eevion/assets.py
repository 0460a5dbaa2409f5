"""Eevion ingest assets: fetch listing pages and reports into the landing zone, parse them and webhook bodies.

- `eevion_session_pages` (fetch): `POST /session` from the `updatedAt` watermark (epoch ms, inclusive)
  in `limit`/`offset` pages → `eevion/sessions/<D>/<run>-page-NNNN.json`; the watermark advances only
  after every page has landed.
- `eevion_report_pages` (fetch): `POST /session/report` grouped by station for the UTC day before D →
  `eevion/reports/<D>/<run>.period-<start ms>_<end ms>_station-page-0001.json`.
- `eevion_sessions` (parse): listing pages and `eevion/webhooks/<D>/*.json` (webhookOnSessionComplete
  bodies written by resources/eevion_webhook.py) → one row per (sessionId, updatedAt).
- `eevion_reports` (parse): report pages → one row per group plus the API's total and average rows.
"""

import datetime as dt
import json
from functools import partial
from operator import itemgetter

import dagster as dg

from assets.checks import ingest_check_specs
from assets.ingest.common import (DOCUMENT, IngestRun, LandedFile, RecordReader, Rejected, VersionRule, day_files, guards,
                                  write_ingest)
from assets.ingest.common.pages import (API_RETRY, REGISTER_POOL, land_page, page_file_name, parse_page_name, run_id_of,
                                        run_token)
from assets.ingest.common.watermarks import WatermarkRegister, normalise, parse
from assets.ingest.eevion.parse import parse_report_row, parse_session
from assets.ingest.eevion.tables import EEVION_REPORTS, EEVION_SESSIONS
from assets.partitions import daily
from assets.reference.external_ids import external_evse_index
from resources.eevion_api import EevionApiResource
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource

REPORT_GROUP_BY = "station"


@dg.asset(partitions_def=daily, group_name="ingest_api", retry_policy=API_RETRY, pool=REGISTER_POOL, kinds={"httpx"})
def eevion_session_pages(context: dg.AssetExecutionContext, eevion_api: EevionApiResource,
                         landing: LandingZoneResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Raw Eevion session listing pages landed today, from the `updatedAt` watermark on."""
    register = WatermarkRegister(warehouse.registers_dir)
    before = register.get("eevion", "sessions")
    since_ms = int(parse(before).timestamp() * 1000) if before else None
    run = run_token(context)
    items: list = []

    def on_page(number: int, content: bytes) -> None:
        land_page(landing, "eevion/sessions", context.partition_key, page_file_name(run, number), content)
        try:
            body = json.loads(content)
        except ValueError:
            return
        if isinstance(body, list):
            items.extend(body)

    pages = eevion_api.fetch_session_pages(on_page, updated_on_or_after_ms=since_ms)
    stamps = []
    for item in items:
        try:
            stamps.append(normalise(parse(item["updatedAt"])))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    after = register.advance("eevion", "sessions", max(stamps), run_id=run_id_of(context),
                             partition_key=context.partition_key) if stamps else before
    return dg.MaterializeResult(metadata={"pages": pages, "records": len(items), "watermark_before": before or "",
                                          "watermark_after": after or ""})


@dg.asset(partitions_def=daily, group_name="ingest_api", retry_policy=API_RETRY, kinds={"httpx"})
def eevion_report_pages(context: dg.AssetExecutionContext, eevion_api: EevionApiResource,
                        landing: LandingZoneResource) -> dg.MaterializeResult:
    """The Eevion session report (per station) for the UTC day before the landing date."""
    day = dt.date.fromisoformat(context.partition_key) - dt.timedelta(days=1)
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)
    start_ms = int(start.timestamp() * 1000)
    end_ms = start_ms + 86_400_000
    content = eevion_api.fetch_report(start_ms, end_ms, group_by=REPORT_GROUP_BY)
    name = page_file_name(run_token(context), 1, "period", f"{start_ms}_{end_ms}_{REPORT_GROUP_BY}")
    land_page(landing, "eevion/reports", context.partition_key, name, content)
    return dg.MaterializeResult(metadata={"report_day": day.isoformat(), "bytes": len(content)})


def _listing_sessions(body, file: LandedFile) -> list:
    if not isinstance(body, list):
        raise Rejected("NOT_A_PAGE", "a session listing page is a JSON array")
    return body


SESSION_SOURCE = "eevion_session"
# A listing page holds many sessions; a webhook body is one session, kept byte for byte.
LISTING_READER = RecordReader(source=SESSION_SOURCE, layouts=(DOCUMENT,), extract=_listing_sessions)
WEBHOOK_READER = RecordReader(source=SESSION_SOURCE, layouts=(DOCUMENT,), document_is_record=True)
WEBHOOK_FOLDER = "eevion/webhooks"


def _parse_session(value, record, *, stations: dict, window: guards.TimeWindow) -> dict:
    origin = "webhook" if record.ref.startswith(WEBHOOK_FOLDER + "/") else "listing"
    return parse_session(value, origin, stations, window)


def session_run(stations: dict, window: guards.TimeWindow) -> IngestRun:
    """The `eevion_sessions` ingest of one day (listing pages first, then webhook bodies)."""
    return IngestRun(source=SESSION_SOURCE, spec=EEVION_SESSIONS,
                     parse=partial(_parse_session, stations=stations, window=window),
                     versions=VersionRule(key=itemgetter("session_id"), version=itemgetter("last_updated"),
                                          describe="sessionId and updatedAt"))


@dg.asset(partitions_def=daily, group_name="ingest", deps=[eevion_session_pages],
          check_specs=ingest_check_specs("eevion_sessions"), kinds={"polars", "parquet"})
def eevion_sessions(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                    landing: LandingZoneResource) -> dg.MaterializeResult:
    """Eevion sessions landed on this day (listing pages and webhook bodies), one row per (session, updatedAt).

    Version rule: identity `sessionId`, version `updatedAt`. The same version arriving by listing and by
    webhook is accepted once (the other copy is DUPLICATE_RECORD); the same version with other content is
    CONFLICTING_VERSION (every copy); a later `updatedAt` is a new version.
    """
    day = context.partition_key
    listing_files = day_files(landing, "eevion/sessions", day)
    webhook_files = day_files(landing, WEBHOOK_FOLDER, day)
    run = session_run(external_evse_index(warehouse, "eevion", "station_id"), guards.window_for(day))
    run.read(LISTING_READER, listing_files).read(WEBHOOK_READER, webhook_files)
    result = run.finish()
    return write_ingest(context, warehouse, result, files=len(listing_files) + len(webhook_files),
                        extra_metadata={"webhook_files": len(webhook_files),
                                        "energy_kwh": round((result.accepted["energy_wh"].sum() or 0) / 1000, 3)})


def _report_rows(body, file: LandedFile) -> list:
    page = parse_page_name(file.name)
    if page is None or page.kind != "period" or not page.ref or page.ref.count("_") != 2:
        raise Rejected("NOT_A_PAGE", "report page name does not state its period and grouping")
    if not isinstance(body, list):
        raise Rejected("NOT_A_PAGE", "a report is a JSON array of rows")
    start_ms, end_ms, group_by = page.ref.split("_")
    return [{"start_ms": guards.integer(start_ms, "period start"), "end_ms": guards.integer(end_ms, "period end"),
             "group_by": group_by, "row": r} for r in body]


def _parse_report(value, record) -> dict:
    start = guards.epoch_ms(value["start_ms"], "report period start")
    end = guards.epoch_ms(value["end_ms"], "report period end")
    row = parse_report_row(value["row"], value["group_by"], start, end)
    return {**row, "raw_payload": json.dumps(value["row"])}


def _report_key(row: dict) -> tuple:
    return row["period_start"].isoformat(), row["period_end"].isoformat(), row["group_by"], row["group_key"]


REPORT_READER = RecordReader(source="eevion_report", layouts=(DOCUMENT,), extract=_report_rows)


def report_run() -> IngestRun:
    """The `eevion_reports` ingest of one day."""
    return IngestRun(source="eevion_report", spec=EEVION_REPORTS, parse=_parse_report,
                     versions=VersionRule(key=_report_key, describe="report period, grouping and group"))


@dg.asset(partitions_def=daily, group_name="ingest", deps=[eevion_report_pages],
          check_specs=ingest_check_specs("eevion_reports"), kinds={"polars", "parquet"})
def eevion_reports(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                   landing: LandingZoneResource) -> dg.MaterializeResult:
    """Eevion report rows landed on this day; the same period fetched twice counts once.

    Version rule: identity (period, grouping, group key); no version stamp, so the same row with other
    figures is CONFLICTING_VERSION (every copy).
    """
    files = day_files(landing, "eevion/reports", context.partition_key)
    run = report_run()
    result = run.read(REPORT_READER, files).finish()
    return write_ingest(context, warehouse, result, files=len(files))


ASSETS = [eevion_session_pages, eevion_report_pages, eevion_sessions, eevion_reports]
