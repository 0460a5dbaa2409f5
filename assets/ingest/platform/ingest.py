"""Parse assets of the platform API: landed pages of one landing date → validated tables + quarantine.

Every asset reads `platform/<resource>/<D>/*.json`, splits the pages into records, collapses exact
re-deliveries (same id and last-updated stamp), parses each record (assets/ingest/platform/parse.py) and
writes its partition, replacing any earlier run of the same partition. Time zones come from the
reference tables: CDRs by `cdrLocation.id` in `locations`, sessions by their EVSE's
`external_ids.platform.evse_id` in the locations' EVSEs, then by operator id in `operators`.
"""


import json

import dagster as dg

from assets.checks import ingest_check_specs
from assets.ingest.ocpi_cdrs.parse import LocationInfo, Rejected
from assets.ingest.platform import parse
from assets.ingest.platform.fetch import (platform_cdr_pages, platform_electricity_rate_pages, platform_session_pages,
                                          platform_tariff_pages)
from assets.ingest.platform.outcome import IngestOutcome, write_outcome
from assets.ingest.platform.pages import RawItem, collapse_redeliveries, listing_data, read_page_items
from assets.ingest.platform.tables import (CONSUMPTION_STATS, ELECTRICITY_RATE_PERIODS, ELECTRICITY_RATES,
                                           PLATFORM_CDRS, PLATFORM_CHARGING_PERIODS, PLATFORM_PRICE_LINES,
                                           PLATFORM_SESSIONS, PLATFORM_TARIFFS)
from assets.partitions import daily
from assets.quarantine import Rejection
from assets.reference import tables as _reference_tables  # noqa: F401  (registers locations/operators specs)
from resources.landing import LandingZoneResource
from assets.reference.external_ids import external_evse_index
from resources.warehouse import WarehouseResource

GROUP = "ingest"


def reference_zones(warehouse: WarehouseResource) -> tuple[dict[str, LocationInfo], dict[str, str]]:
    """Location id → (zone, operator) and operator id → zone, from the reference tables (empty if absent)."""
    locations = {r["location_id"]: LocationInfo(r["time_zone"], r["operator_id"])
                 for r in warehouse.read("locations").iter_rows(named=True)}
    operators = {r["operator_id"]: r["time_zone"] for r in warehouse.read("operators").iter_rows(named=True)}
    return locations, operators


def platform_evse_index(warehouse: WarehouseResource) -> dict[str, parse.EvseSite]:
    """Platform EVSE id → its location, zone, operator and our EVSE uid (`external_ids.platform.evse_id` of the
    reference EVSEs); platform sessions name an EVSE, never a location."""
    return external_evse_index(warehouse, "platform", "evse_id")


def _versioned_key(id_field: str, stamp_field: str):
    def key(item: RawItem):
        value = item.value
        if not isinstance(value, dict) or value.get(id_field) in (None, ""):
            return None
        return (str(value[id_field]), str(value.get(stamp_field)))
    return key


def _read(landing: LandingZoneResource, source: str, partition_key: str, source_name: str, extract=listing_data):
    files = landing.files(source, partition_key, suffixes=(".json",))
    items, unreadable = read_page_items(files, landing.root_path, source_name, extract)
    return files, items, unreadable


def _reject(outcome: IngestOutcome, source: str, item: RawItem, exc: Rejected) -> None:
    outcome.rejected.append(Rejection(source, item.ref, exc.code, exc.reason, item.text))


@dg.asset(partitions_def=daily, group_name=GROUP,
          deps=[platform_cdr_pages, "locations", "operators"], check_specs=ingest_check_specs("platform_cdrs"),
          kinds={"polars", "parquet"})
def platform_cdrs(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                  landing: LandingZoneResource) -> dg.MaterializeResult:
    """Platform CDRs that landed on this day: OCPI 2.1.1/2.2 and OICP payloads, credit CDRs as negative reversals.

    One row per (CDR id, lastUpdatedAt); quarantine reasons in assets/ingest/platform/parse.py.
    """
    source = "platform_cdr_page"
    files, items, unreadable = _read(landing, "platform/cdrs", context.partition_key, source)
    collapsed = collapse_redeliveries(items, _versioned_key("id", "lastUpdatedAt"), source)
    locations, operators = reference_zones(warehouse)
    outcome = IngestOutcome(rejected=unreadable + collapsed.conflicts, redelivered=collapsed.redelivered,
                            rows_in=len(unreadable) + len(collapsed.items) + len(collapsed.conflicts))
    for item in collapsed.items:
        try:
            row = parse.parse_cdr(item.value, locations, operators)
        except Rejected as exc:
            _reject(outcome, source, item, exc)
            continue
        outcome.rows.append({**row, "record_ref": item.ref, "raw_payload": item.text})
    credits = sum(1 for r in outcome.rows if r["is_credit"])
    return write_outcome(context, warehouse, PLATFORM_CDRS, outcome, files=len(files),
                         extra_metadata={"credit_cdrs": credits,
                                         "energy_kwh": round(sum(r["energy_wh"] for r in outcome.rows) / 1000, 3)})


@dg.asset(partitions_def=daily, group_name=GROUP, deps=[platform_session_pages, "locations", "operators"],
          check_specs=ingest_check_specs("platform_sessions"), kinds={"polars", "parquet"})
def platform_sessions(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                      landing: LandingZoneResource) -> dg.MaterializeResult:
    """Platform sessions that landed on this day, one row per (session, lastUpdatedAt).

    Also writes `platform_charging_periods` and `platform_price_lines` (session-level and per-period
    price breakdowns) for the accepted sessions; a session with a bad period or line is quarantined whole.
    """
    source = "platform_session_page"
    files, items, unreadable = _read(landing, "platform/sessions", context.partition_key, source)
    collapsed = collapse_redeliveries(items, _versioned_key("id", "lastUpdatedAt"), source)
    _, operators = reference_zones(warehouse)
    evses = platform_evse_index(warehouse)
    outcome = IngestOutcome(rejected=unreadable + collapsed.conflicts, redelivered=collapsed.redelivered,
                            rows_in=len(unreadable) + len(collapsed.items) + len(collapsed.conflicts))
    periods, lines = [], []
    for item in collapsed.items:
        try:
            row, item_periods, item_lines = parse.parse_session(item.value, operators, evses)
        except Rejected as exc:
            _reject(outcome, source, item, exc)
            continue
        outcome.rows.append({**row, "record_ref": item.ref, "raw_payload": item.text})
        periods += [{**p, "record_ref": item.ref} for p in item_periods]
        lines += [{**line, "record_ref": item.ref} for line in item_lines]
    outcome.extra_tables = {"charging_periods": (PLATFORM_CHARGING_PERIODS, periods),
                            "price_lines": (PLATFORM_PRICE_LINES, lines)}
    return write_outcome(context, warehouse, PLATFORM_SESSIONS, outcome, files=len(files),
                         extra_metadata={"energy_kwh": round(sum(r["energy_wh"] for r in outcome.rows) / 1000, 3)})


def _stats_points(body, page):
    if page is None or page.kind != "session" or not page.ref:
        raise ValueError("consumption-stats page name does not say which session it belongs to")
    return [{"session": page.ref, "point_no": n, "point": p} for n, p in enumerate(listing_data(body, page))]


@dg.asset(partitions_def=daily, group_name=GROUP, deps=[platform_session_pages],
          check_specs=ingest_check_specs("consumption_stats"), kinds={"polars", "parquet"})
def consumption_stats(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                      landing: LandingZoneResource) -> dg.MaterializeResult:
    """Cumulative energy/power points of platform sessions (`sessions/{id}/consumption-stats`) landed on this day.

    Points of the same session landed twice (two fetches) collapse on (session, timestamp, point).
    """
    source = "platform_consumption_stats_page"
    files, items, unreadable = _read(landing, "platform/consumption_stats", context.partition_key, source, _stats_points)

    def key(item: RawItem):
        value = item.value
        point = value["point"]
        stamp = point.get("timestamp") if isinstance(point, dict) else None
        return (value["session"], str(stamp), value["point_no"]) if stamp else None

    collapsed = collapse_redeliveries(items, key, source)
    outcome = IngestOutcome(rejected=unreadable + collapsed.conflicts, redelivered=collapsed.redelivered,
                            rows_in=len(unreadable) + len(collapsed.items) + len(collapsed.conflicts))
    for item in collapsed.items:
        value = item.value
        try:
            row = parse.parse_consumption_point(value["point"], value["session"], value["point_no"])
        except Rejected as exc:
            _reject(outcome, source, item, exc)
            continue
        outcome.rows.append({**row, "record_ref": item.ref, "raw_payload": item.text})
    return write_outcome(context, warehouse, CONSUMPTION_STATS, outcome, files=len(files),
                         extra_metadata={"sessions": len({r["session_id"] for r in outcome.rows})})


def _tariff_records(body, page):
    kind = "snapshot" if page is not None and page.kind == "snapshot" else "tariff"
    return [{"kind": kind, "tariff": t} for t in listing_data(body, page)]


@dg.asset(partitions_def=daily, group_name=GROUP, deps=[platform_tariff_pages, platform_session_pages],
          check_specs=ingest_check_specs("platform_tariffs"), kinds={"polars", "parquet"})
def platform_tariffs(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                     landing: LandingZoneResource) -> dg.MaterializeResult:
    """Platform tariffs (full listing snapshot) and tariff snapshots that landed on this day."""
    source = "platform_tariff_page"
    files, items, unreadable = _read(landing, "platform/tariffs", context.partition_key, source, _tariff_records)

    def key(item: RawItem):
        tariff = item.value["tariff"]
        if not isinstance(tariff, dict) or tariff.get("id") is None:
            return None
        return (item.value["kind"], str(tariff["id"]), str(tariff.get("lastUpdatedAt")))

    collapsed = collapse_redeliveries(items, key, source)
    outcome = IngestOutcome(rejected=unreadable + collapsed.conflicts, redelivered=collapsed.redelivered,
                            rows_in=len(unreadable) + len(collapsed.items) + len(collapsed.conflicts))
    for item in collapsed.items:
        try:
            row = parse.parse_tariff(item.value["tariff"], item.value["kind"])
        except (Rejected, ValueError, TypeError) as exc:
            reason = exc if isinstance(exc, Rejected) else Rejected("INVALID_VALUE", f"tariff id is not an integer: {exc}")
            _reject(outcome, source, item, reason)
            continue
        outcome.rows.append({**row, "record_ref": item.ref, "raw_payload": json.dumps(item.value["tariff"])})
    return write_outcome(context, warehouse, PLATFORM_TARIFFS, outcome, files=len(files),
                         extra_metadata={"snapshots": sum(1 for r in outcome.rows if r["kind"] == "snapshot")})


def _rate_records(body, page):
    if page is not None and page.kind == "rate":
        return [{"rate_id": page.ref, "group": g} for g in listing_data(body, page)]
    return [{"rate": r} for r in listing_data(body, page)]


@dg.asset(partitions_def=daily, group_name=GROUP, deps=[platform_electricity_rate_pages],
          check_specs=ingest_check_specs("electricity_rates"), kinds={"polars", "parquet"})
def electricity_rates(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                      landing: LandingZoneResource) -> dg.MaterializeResult:
    """Electricity rates and their price periods (gross prices, local times) that landed on this day.

    Records are rates and price-period groups (`{weekDay|date, periods[]}`); a group expands into one
    `electricity_rate_periods` row per period. A rate or group that appears twice (two snapshots on one
    day) with the same content counts once.
    """
    source = "platform_electricity_rate_page"
    files, items, unreadable = _read(landing, "platform/electricity_rates", context.partition_key, source, _rate_records)

    def key(item: RawItem):
        # rates carry no lastUpdatedAt: identical content is a re-delivery, anything else a new version
        return json.dumps(item.value, sort_keys=True)

    collapsed = collapse_redeliveries(items, key, source)
    outcome = IngestOutcome(rejected=unreadable + collapsed.conflicts, redelivered=collapsed.redelivered,
                            rows_in=len(unreadable) + len(collapsed.items) + len(collapsed.conflicts))
    periods: list[dict] = []
    groups_accepted = 0
    for item in collapsed.items:
        try:
            if "rate" in item.value:
                outcome.rows.append({**parse.parse_rate(item.value["rate"]), "record_ref": item.ref,
                                     "raw_payload": json.dumps(item.value["rate"])})
                continue
            if not str(item.value["rate_id"]).isdigit():
                raise Rejected("INVALID_VALUE", f"price periods of rate {item.value['rate_id']!r}: id is not an integer")
            group_rows = parse.parse_price_period_group(item.value["group"], int(item.value["rate_id"]))
        except (Rejected, ValueError, TypeError) as exc:
            reason = exc if isinstance(exc, Rejected) else Rejected("INVALID_VALUE", str(exc))
            _reject(outcome, source, item, reason)
            continue
        # a price-period group is one accepted record; its periods are its child rows
        groups_accepted += 1
        periods += [{**p, "record_ref": item.ref} for p in group_rows]
    outcome.accepted_records = len(outcome.rows) + groups_accepted
    outcome.extra_tables = {"price_periods": (ELECTRICITY_RATE_PERIODS, periods)}
    return write_outcome(context, warehouse, ELECTRICITY_RATES, outcome, files=len(files),
                         extra_metadata={"price_period_groups_accepted": groups_accepted})


PARSE_ASSETS = [platform_cdrs, platform_sessions, consumption_stats, platform_tariffs, electricity_rates]
