"""Fetch assets of the platform API: pull pages into the landing zone and advance the watermarks.

Each asset writes every page durably to `platform/<resource>/<D>/` *before* parsing it (to find the next
cursor or the watermark), and advances a watermark only after all its pages have landed, so a crash or
a failed retry re-fetches from the old watermark and loses nothing. Streams:

| asset | stream (register key) | request |
|---|---|---|
| platform_cdr_pages | cdrs_received | `filter[isLocal]=false&filter[receivedAfter]=W` (eMSP CDRs) |
|  | cdrs_sent | `filter[isLocal]=true&filter[sentAfter]=W` (CPO CDRs) |
| platform_session_pages | sessions | `filter[lastUpdatedAfter]=W` with charging periods and both breakdowns; then each finished session's consumption stats and each new tariff snapshot |
| platform_tariff_pages | (none) | full snapshot of `tariffs/v1.0` (no updated-since filter exists) |
| platform_electricity_rate_pages | (none) | full snapshot of `electricity-rates/v2.0` and each rate's price periods |

The partition key is the landing date: a fetch lands into the folder of its partition.
"""


import json
from collections.abc import Iterable
from typing import Any

import dagster as dg

from assets.ingest.common.pages import API_RETRY, REGISTER_POOL, land_page, page_file_name, run_id_of, run_token
from assets.ingest.common.watermarks import WatermarkRegister, normalise, parse
from assets.partitions import daily
from resources.landing import LandingZoneResource
from resources.platform_api import ApiError, PlatformApiResource
from resources.warehouse import WarehouseResource

GROUP = "ingest_api"
SESSION_QUERY = {"withChargingPeriods": "true", "withChargingPeriodsPriceBreakdown": "true", "withPriceBreakdown": "true"}


class PageCollector:
    """`on_page` callback: lands each page first, then keeps its parsed items for the caller."""

    def __init__(self, landing: LandingZoneResource, source: str, landing_date: str, run: str,
                 kind: str | None = None, ref: str | None = None) -> None:
        self.landing, self.source, self.landing_date = landing, source, landing_date
        self.run, self.kind, self.ref = run, kind, ref
        self.items: list[Any] = []
        self.pages = 0

    def __call__(self, number: int, content: bytes) -> None:
        land_page(self.landing, self.source, self.landing_date,
                  page_file_name(self.run, number, self.kind, self.ref), content)
        self.pages += 1
        try:
            data = json.loads(content).get("data")
        except (ValueError, AttributeError):
            return  # the parse asset quarantines the page; the landed bytes are what counts
        if isinstance(data, list):
            self.items.extend(data)
        elif isinstance(data, dict):
            self.items.append(data)


def latest_stamp(items: Iterable[Any], field: str) -> str | None:
    """The latest parseable `field` among the items (None when none has it)."""
    latest = None
    for item in items:
        value = item.get(field) if isinstance(item, dict) else None
        try:
            stamp = normalise(parse(value)) if isinstance(value, str) and value else None
        except ValueError:
            continue
        if stamp and (latest is None or stamp > latest):
            latest = stamp
    return latest


def _fetch_stream(context: dg.AssetExecutionContext, api: PlatformApiResource, landing: LandingZoneResource,
                  register: WatermarkRegister, *, resource: str, stream: str, filter_name: str, stamp_field: str,
                  filters: dict[str, str], params: dict[str, str] | None = None) -> tuple[PageCollector, str | None, str | None]:
    before = register.get("platform", stream)
    wanted = dict(filters)
    if before:
        wanted[filter_name] = before
    collector = PageCollector(landing, f"platform/{resource}", context.partition_key, f"{run_token(context)}_{stream}")
    api.fetch_listing(resource, collector, filters=wanted, params=params)
    newest = latest_stamp(collector.items, stamp_field)
    after = register.advance("platform", stream, newest, run_id=run_id_of(context), partition_key=context.partition_key) \
        if newest else before
    context.log.info(f"platform {stream}: {collector.pages} pages, {len(collector.items)} records, watermark {before} → {after}")
    return collector, before, after


@dg.asset(partitions_def=daily, group_name=GROUP, retry_policy=API_RETRY, pool=REGISTER_POOL, kinds={"httpx"})
def platform_cdr_pages(context: dg.AssetExecutionContext, platform_api: PlatformApiResource,
                       landing: LandingZoneResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Raw `cdrs/v2.0` pages landed today: eMSP CDRs since the `receivedAt` watermark, CPO CDRs since `sentAt`."""
    register = WatermarkRegister(warehouse.registers_dir)
    received, r_before, r_after = _fetch_stream(context, platform_api, landing, register, resource="cdrs",
                                                stream="cdrs_received", filter_name="receivedAfter",
                                                stamp_field="receivedAt", filters={"isLocal": "false"})
    sent, s_before, s_after = _fetch_stream(context, platform_api, landing, register, resource="cdrs",
                                            stream="cdrs_sent", filter_name="sentAfter", stamp_field="sentAt",
                                            filters={"isLocal": "true"})
    return dg.MaterializeResult(metadata={
        "pages": received.pages + sent.pages, "records": len(received.items) + len(sent.items),
        "watermark_received_before": r_before or "", "watermark_received_after": r_after or "",
        "watermark_sent_before": s_before or "", "watermark_sent_after": s_after or "",
    })


def _already_landed(landing: LandingZoneResource, source: str, kind: str, ref: str) -> bool:
    root = landing.source_dir(source)
    return root.exists() and any(root.glob(f"*/*.{kind}-{ref}-page-*.json"))


@dg.asset(partitions_def=daily, group_name=GROUP, retry_policy=API_RETRY, pool=REGISTER_POOL, kinds={"httpx"})
def platform_session_pages(context: dg.AssetExecutionContext, platform_api: PlatformApiResource,
                           landing: LandingZoneResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Raw session pages since the `lastUpdatedAt` watermark, plus consumption stats and tariff snapshots.

    Consumption stats are fetched for sessions that are finished; a session whose stats the API no longer
    has (404) is counted in `consumption_stats_missing`, not fatal. Snapshots never change, so each is
    fetched once (skipped when any earlier day landed it).
    """
    register = WatermarkRegister(warehouse.registers_dir)
    run = run_token(context)
    sessions, before, after = _fetch_stream(context, platform_api, landing, register, resource="sessions",
                                            stream="sessions", filter_name="lastUpdatedAfter",
                                            stamp_field="lastUpdatedAt", filters={}, params=SESSION_QUERY)
    stats_pages = missing = snapshots = 0
    seen_snapshots: set[str] = set()
    for session in sessions.items:
        if not isinstance(session, dict) or session.get("id") in (None, ""):
            continue
        session_id = str(session["id"])
        if session.get("status") == "finished":
            collector = PageCollector(landing, "platform/consumption_stats", context.partition_key, run, "session", session_id)
            try:
                platform_api.fetch_one(f"/public-api/resources/sessions/v1.0/{session_id}/consumption-stats", collector)
                stats_pages += collector.pages
            except ApiError as exc:
                if exc.status != 404:
                    raise
                missing += 1
        snapshot = session.get("tariffSnapshotId")
        if snapshot is not None and str(snapshot) not in seen_snapshots:
            seen_snapshots.add(str(snapshot))
            if not _already_landed(landing, "platform/tariffs", "snapshot", str(snapshot)):
                collector = PageCollector(landing, "platform/tariffs", context.partition_key, run, "snapshot", str(snapshot))
                platform_api.fetch_one(f"/public-api/resources/tariff-snapshots/v1.0/{snapshot}", collector)
                snapshots += 1
    return dg.MaterializeResult(metadata={
        "pages": sessions.pages, "records": len(sessions.items), "consumption_stats_pages": stats_pages,
        "consumption_stats_missing": missing, "tariff_snapshots_fetched": snapshots,
        "watermark_before": before or "", "watermark_after": after or "",
    })


@dg.asset(partitions_def=daily, group_name=GROUP, retry_policy=API_RETRY, kinds={"httpx"})
def platform_tariff_pages(context: dg.AssetExecutionContext, platform_api: PlatformApiResource,
                          landing: LandingZoneResource) -> dg.MaterializeResult:
    """A full snapshot of the platform's tariffs (the API offers no updated-since filter)."""
    collector = PageCollector(landing, "platform/tariffs", context.partition_key, f"{run_token(context)}_tariffs")
    platform_api.fetch_listing("tariffs", collector)
    return dg.MaterializeResult(metadata={"pages": collector.pages, "records": len(collector.items)})


@dg.asset(partitions_def=daily, group_name=GROUP, retry_policy=API_RETRY, kinds={"httpx"})
def platform_electricity_rate_pages(context: dg.AssetExecutionContext, platform_api: PlatformApiResource,
                                    landing: LandingZoneResource) -> dg.MaterializeResult:
    """A full snapshot of the electricity rates and, per rate, its price periods."""
    run = run_token(context)
    rates = PageCollector(landing, "platform/electricity_rates", context.partition_key, f"{run}_rates")
    platform_api.fetch_listing("electricity_rates", rates)
    period_pages = 0
    for rate in rates.items:
        if isinstance(rate, dict) and rate.get("id") is not None:
            collector = PageCollector(landing, "platform/electricity_rates", context.partition_key, run, "rate", str(rate["id"]))
            platform_api.fetch_one(f"/public-api/resources/electricity-rates/v2.0/{rate['id']}/price-periods", collector)
            period_pages += collector.pages
    return dg.MaterializeResult(metadata={"pages": rates.pages, "records": len(rates.items), "price_period_pages": period_pages})


FETCH_ASSETS = [platform_cdr_pages, platform_session_pages, platform_tariff_pages, platform_electricity_rate_pages]
