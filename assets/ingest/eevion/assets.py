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

import dagster as dg

from assets.checks import ingest_check_specs
from assets.ingest.eevion.parse import parse_report_row, parse_session
from assets.ingest.eevion.tables import EEVION_REPORTS, EEVION_SESSIONS
from assets.ingest.ocpi_cdrs.parse import Rejected
from assets.ingest.platform.fetch import API_RETRY, REGISTER_POOL, run_id_of, run_token
from assets.ingest.platform.outcome import IngestOutcome, write_outcome
from assets.ingest.platform.pages import (PageName, RawItem, collapse_redeliveries, land_page, page_file_name,
                                          read_page_items)
from assets.ingest.platform.watermarks import WatermarkRegister, normalise, parse
from assets.partitions import daily
from assets.reference.external_ids import external_evse_index
from assets.quarantine import Rejection
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


def _session_records(body, page: PageName | None):
    if isinstance(body, list):
        return [{"origin": "listing", "session": s} for s in body]
    if isinstance(body, dict) and page is None:
        return [{"origin": "webhook", "session": body}]
    raise ValueError("neither a listing page (array) nor a webhook body (object)")


def _session_key(item: RawItem):
    session = item.value["session"]
    if not isinstance(session, dict) or session.get("sessionId") in (None, ""):
        return None
    return (str(session["sessionId"]), str(session.get("updatedAt")))


@dg.asset(partitions_def=daily, group_name="ingest", deps=[eevion_session_pages],
          check_specs=ingest_check_specs("eevion_sessions"), kinds={"polars", "parquet"})
def eevion_sessions(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                    landing: LandingZoneResource) -> dg.MaterializeResult:
    """Eevion sessions landed on this day (listing pages and webhook bodies), one row per (session, updatedAt).

    The same version arriving by listing and by webhook counts once (`rows_redelivered`).
    """
    source = "eevion_session"
    day = context.partition_key
    listing_files = landing.files("eevion/sessions", day, suffixes=(".json",))
    webhook_files = landing.files("eevion/webhooks", day, suffixes=(".json",))
    items, unreadable = read_page_items(listing_files, landing.root_path, source, _session_records)
    hooks, hook_unreadable = read_page_items(webhook_files, landing.root_path, source,
                                             lambda body, _page: _session_records(body, None))
    collapsed = collapse_redeliveries(items + hooks, _session_key, source, content=lambda item: item.value["session"])
    outcome = IngestOutcome(rejected=unreadable + hook_unreadable + collapsed.conflicts,
                            redelivered=collapsed.redelivered,
                            rows_in=len(unreadable) + len(hook_unreadable) + len(collapsed.items) + len(collapsed.conflicts))
    stations = external_evse_index(warehouse, "eevion", "station_id")
    for item in collapsed.items:
        value = item.value  # decoded once per record
        try:
            row = parse_session(value["session"], value["origin"], stations)
        except Rejected as exc:
            outcome.rejected.append(Rejection(source, item.ref, exc.code, exc.reason, json.dumps(value["session"])))
            continue
        outcome.rows.append({**row, "record_ref": item.ref, "raw_payload": json.dumps(value["session"])})
    return write_outcome(context, warehouse, EEVION_SESSIONS, outcome, files=len(listing_files) + len(webhook_files),
                         extra_metadata={"webhook_files": len(webhook_files),
                                         "energy_kwh": round(sum(r["energy_wh"] for r in outcome.rows) / 1000, 3)})


def _report_rows(body, page: PageName | None):
    if page is None or page.kind != "period" or not page.ref or page.ref.count("_") != 2:
        raise ValueError("report page name does not state its period and grouping")
    if not isinstance(body, list):
        raise ValueError("a report is a JSON array of rows")
    start_ms, end_ms, group_by = page.ref.split("_")
    return [{"start_ms": int(start_ms), "end_ms": int(end_ms), "group_by": group_by, "row": r} for r in body]


@dg.asset(partitions_def=daily, group_name="ingest", deps=[eevion_report_pages],
          check_specs=ingest_check_specs("eevion_reports"), kinds={"polars", "parquet"})
def eevion_reports(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                   landing: LandingZoneResource) -> dg.MaterializeResult:
    """Eevion report rows landed on this day; the same period fetched twice counts once."""
    source = "eevion_report"
    files = landing.files("eevion/reports", context.partition_key, suffixes=(".json",))
    items, unreadable = read_page_items(files, landing.root_path, source, _report_rows)

    def key(item: RawItem):
        value = item.value
        return (value["start_ms"], value["end_ms"], value["group_by"], json.dumps(value["row"], sort_keys=True))

    collapsed = collapse_redeliveries(items, key, source)
    outcome = IngestOutcome(rejected=unreadable + collapsed.conflicts, redelivered=collapsed.redelivered,
                            rows_in=len(unreadable) + len(collapsed.items) + len(collapsed.conflicts))
    for item in collapsed.items:
        value = item.value
        start = dt.datetime.fromtimestamp(value["start_ms"] / 1000, dt.timezone.utc)
        end = dt.datetime.fromtimestamp(value["end_ms"] / 1000, dt.timezone.utc)
        try:
            row = parse_report_row(value["row"], value["group_by"], start, end)
        except Rejected as exc:
            outcome.rejected.append(Rejection(source, item.ref, exc.code, exc.reason, json.dumps(value["row"])))
            continue
        outcome.rows.append({**row, "record_ref": item.ref, "raw_payload": json.dumps(value["row"])})
    return write_outcome(context, warehouse, EEVION_REPORTS, outcome, files=len(files))


ASSETS = [eevion_session_pages, eevion_report_pages, eevion_sessions, eevion_reports]
