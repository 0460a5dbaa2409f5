"""Parse assets of the platform API: landed pages of one landing date → validated tables + quarantine.

Every asset reads `platform/<resource>/<D>/` with the ingest framework (assets/ingest/common): each page is
split into records, each record parsed (assets/ingest/platform/parse.py) inside the guard, and the
partition written, replacing any earlier run of the same partition. Time zones come from the reference
tables: CDRs by `cdrLocation.id` in `locations`, sessions by their EVSE's `external_ids.platform.evse_id`
in the locations' EVSEs, then by operator id in `operators`.

Version rules (DUPLICATE_RECORD for an exact re-delivery, CONFLICTING_VERSION for other content under the
same identity, a newer stamp is a new version):

| table | identity | version |
|---|---|---|
| platform_cdrs | CDR id | lastUpdatedAt (receivedAt when absent) |
| platform_sessions | session id | lastUpdatedAt |
| consumption_stats | session, point number, timestamp | – |
| platform_tariffs | listing tariff id or snapshot id | lastUpdatedAt |
| electricity_rates | rate id; price-period group: rate id and weekday/date | – (rates carry no stamp) |
"""

from functools import partial
from operator import itemgetter

import dagster as dg

from assets.checks import ingest_check_specs
from assets.ingest.common import (Accepted, IngestResult, IngestRun, LandedFile, RecordReader, Rejected, VersionRule,
                                  canonical_bytes, day_files, guards, write_ingest)
from assets.ingest.common.files import DOCUMENT
from assets.ingest.common.pages import listing_data, parse_page_name
from assets.ingest.ocpi_cdrs.parse import LocationInfo
from assets.ingest.platform import parse
from assets.ingest.platform.fetch import (platform_cdr_pages, platform_electricity_rate_pages, platform_session_pages,
                                          platform_tariff_pages)
from assets.ingest.platform.tables import (CONSUMPTION_STATS, ELECTRICITY_RATE_PERIODS, ELECTRICITY_RATES,
                                           PLATFORM_CDRS, PLATFORM_CHARGING_PERIODS, PLATFORM_PRICE_LINES,
                                           PLATFORM_SESSIONS, PLATFORM_TARIFFS)
from assets.partitions import daily
from assets.reference.external_ids import external_evse_index
from resources.landing import LandingZoneResource
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


def page_reader(source: str, extract=lambda body, file: listing_data(body)) -> RecordReader:
    """Platform pages are JSON documents (`{data: ...}`), compressed or not."""
    return RecordReader(source=source, layouts=(DOCUMENT,), extract=extract)


def _ingest(context: dg.AssetExecutionContext, landing: LandingZoneResource, folder: str, reader: RecordReader,
            run: IngestRun) -> tuple[IngestResult, int]:
    files = day_files(landing, folder, context.partition_key)
    return run.read(reader, files).finish(), len(files)


def _window(context: dg.AssetExecutionContext) -> guards.TimeWindow:
    return guards.window_for(context.partition_key)


def _stats_points(body, file: LandedFile) -> list:
    page = parse_page_name(file.name)
    if page is None or page.kind != "session" or not page.ref:
        raise Rejected("NOT_A_PAGE", "consumption-stats page name does not say which session it belongs to")
    return [{"session": page.ref, "point_no": n, "point": p} for n, p in enumerate(listing_data(body))]


def _tariff_records(body, file: LandedFile) -> list:
    page = parse_page_name(file.name)
    kind = "snapshot" if page is not None and page.kind == "snapshot" else "tariff"
    return [{"kind": kind, "tariff": t} for t in listing_data(body)]


def _parse_tariff(value, record) -> dict:
    row = parse.parse_tariff(value["tariff"], value["kind"])
    return {**row, "raw_payload": canonical_bytes(value["tariff"], sort_keys=False).decode()}


def _rate_records(body, file: LandedFile) -> list:
    page = parse_page_name(file.name)
    if page is not None and page.kind == "rate":
        return [{"rate_id": page.ref, "group": g} for g in listing_data(body)]
    return [{"rate": r} for r in listing_data(body)]


def _parse_rate_record(value, record):
    """A rate → an `electricity_rates` row; a price-period group → its period rows only."""
    if "rate" in value:
        return {**parse.parse_rate(value["rate"]), "raw_payload": canonical_bytes(value["rate"], sort_keys=False).decode()}
    rate_id = guards.integer(value["rate_id"], f"price periods of rate {value['rate_id']!r}: id")
    group = value["group"]
    periods = parse.parse_price_period_group(group, rate_id)
    return Accepted(None, {"price_periods": [{**p, "record_ref": record.ref} for p in periods]},
                    key=("price_periods", rate_id, group.get("weekDay") or group.get("date")))


# Parsers and identities are module-level functions (or partials of them), so a day can be parsed on a pool.
def _parse_cdr(value, record, *, locations: dict[str, LocationInfo], operators: dict[str, str],
               window: guards.TimeWindow) -> dict:
    return parse.parse_cdr(value, locations, operators, window)


def _parse_session(value, record, *, operators: dict[str, str], evses: dict[str, parse.EvseSite],
                   window: guards.TimeWindow) -> Accepted:
    row, periods, lines = parse.parse_session(value, operators, evses, window)
    return Accepted(row, {"charging_periods": [{**p, "record_ref": record.ref} for p in periods],
                          "price_lines": [{**line, "record_ref": record.ref} for line in lines]})


def _parse_stats_point(value, record, *, window: guards.TimeWindow) -> dict:
    return parse.parse_consumption_point(value["point"], value["session"], value["point_no"], window)


def _stats_point_key(row: dict) -> tuple:
    return row["session_id"], row["point_no"], row["timestamp"].isoformat()


def _tariff_key(row: dict) -> tuple:
    return row["kind"], row["snapshot_id"] or row["tariff_id"]


def _rate_key(row: dict) -> tuple:
    return "rate", row["rate_id"]


_LAST_UPDATED = itemgetter("last_updated")


def cdr_run(locations: dict[str, LocationInfo], operators: dict[str, str], window: guards.TimeWindow) -> IngestRun:
    """The `platform_cdrs` ingest of one day (reference zones and time window given)."""
    return IngestRun(source="platform_cdr_page", spec=PLATFORM_CDRS,
                     parse=partial(_parse_cdr, locations=locations, operators=operators, window=window),
                     versions=VersionRule(key=itemgetter("cdr_id"), version=_LAST_UPDATED,
                                          describe="CDR id and lastUpdatedAt"))


def session_run(operators: dict[str, str], evses: dict[str, parse.EvseSite], window: guards.TimeWindow) -> IngestRun:
    """The `platform_sessions` ingest of one day, with its charging-period and price-line child tables."""
    return IngestRun(source="platform_session_page", spec=PLATFORM_SESSIONS,
                     parse=partial(_parse_session, operators=operators, evses=evses, window=window),
                     children={"charging_periods": PLATFORM_CHARGING_PERIODS, "price_lines": PLATFORM_PRICE_LINES},
                     versions=VersionRule(key=itemgetter("session_id"), version=_LAST_UPDATED,
                                          describe="session id and lastUpdatedAt"))


def stats_run(window: guards.TimeWindow) -> IngestRun:
    """The `consumption_stats` ingest of one day."""
    return IngestRun(source="platform_consumption_stats_page", spec=CONSUMPTION_STATS,
                     parse=partial(_parse_stats_point, window=window),
                     versions=VersionRule(key=_stats_point_key, describe="session, point number and timestamp"))


def tariff_run() -> IngestRun:
    """The `platform_tariffs` ingest of one day."""
    return IngestRun(source="platform_tariff_page", spec=PLATFORM_TARIFFS, parse=_parse_tariff,
                     versions=VersionRule(key=_tariff_key, version=_LAST_UPDATED, describe="tariff id and lastUpdatedAt"))


def rate_run() -> IngestRun:
    """The `electricity_rates` ingest of one day, with the price periods as a child table."""
    return IngestRun(source="platform_electricity_rate_page", spec=ELECTRICITY_RATES, parse=_parse_rate_record,
                     children={"price_periods": ELECTRICITY_RATE_PERIODS},
                     versions=VersionRule(key=_rate_key, describe="rate id (or rate and day)"))


@dg.asset(partitions_def=daily, group_name=GROUP,
          deps=[platform_cdr_pages, "locations", "operators"], check_specs=ingest_check_specs("platform_cdrs"),
          kinds={"polars", "parquet"})
def platform_cdrs(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                  landing: LandingZoneResource) -> dg.MaterializeResult:
    """Platform CDRs that landed on this day: OCPI 2.1.1/2.2 and OICP payloads, credit CDRs as negative reversals.

    One row per (CDR id, lastUpdatedAt); quarantine reasons in assets/ingest/platform/parse.py.
    """
    locations, operators = reference_zones(warehouse)
    run = cdr_run(locations, operators, _window(context))
    result, files = _ingest(context, landing, "platform/cdrs", page_reader(run.source), run)
    accepted = result.accepted
    return write_ingest(context, warehouse, result, files=files, extra_metadata={
        "credit_cdrs": int(accepted["is_credit"].sum() or 0),
        "energy_kwh": round((accepted["energy_wh"].sum() or 0) / 1000, 3)})


@dg.asset(partitions_def=daily, group_name=GROUP, deps=[platform_session_pages, "locations", "operators"],
          check_specs=ingest_check_specs("platform_sessions"), kinds={"polars", "parquet"})
def platform_sessions(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                      landing: LandingZoneResource) -> dg.MaterializeResult:
    """Platform sessions that landed on this day, one row per (session, lastUpdatedAt).

    Also writes `platform_charging_periods` and `platform_price_lines` (session-level and per-period
    price breakdowns) for the accepted sessions; a session with a bad period or line is quarantined whole.
    """
    _, operators = reference_zones(warehouse)
    run = session_run(operators, platform_evse_index(warehouse), _window(context))
    result, files = _ingest(context, landing, "platform/sessions", page_reader(run.source), run)
    return write_ingest(context, warehouse, result, files=files,
                        extra_metadata={"energy_kwh": round((result.accepted["energy_wh"].sum() or 0) / 1000, 3)})


@dg.asset(partitions_def=daily, group_name=GROUP, deps=[platform_session_pages],
          check_specs=ingest_check_specs("consumption_stats"), kinds={"polars", "parquet"})
def consumption_stats(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                      landing: LandingZoneResource) -> dg.MaterializeResult:
    """Cumulative energy/power points of platform sessions (`sessions/{id}/consumption-stats`) landed on this day.

    Points of the same session landed twice (two fetches) are DUPLICATE_RECORD on (session, point, timestamp).
    """
    run = stats_run(_window(context))
    result, files = _ingest(context, landing, "platform/consumption_stats", page_reader(run.source, _stats_points), run)
    return write_ingest(context, warehouse, result, files=files,
                        extra_metadata={"sessions": result.accepted["session_id"].n_unique()})


@dg.asset(partitions_def=daily, group_name=GROUP, deps=[platform_tariff_pages, platform_session_pages],
          check_specs=ingest_check_specs("platform_tariffs"), kinds={"polars", "parquet"})
def platform_tariffs(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                     landing: LandingZoneResource) -> dg.MaterializeResult:
    """Platform tariffs (full listing snapshot) and tariff snapshots that landed on this day."""
    run = tariff_run()
    result, files = _ingest(context, landing, "platform/tariffs", page_reader(run.source, _tariff_records), run)
    return write_ingest(context, warehouse, result, files=files,
                        extra_metadata={"snapshots": int((result.accepted["kind"] == "snapshot").sum())})


@dg.asset(partitions_def=daily, group_name=GROUP, deps=[platform_electricity_rate_pages],
          check_specs=ingest_check_specs("electricity_rates"), kinds={"polars", "parquet"})
def electricity_rates(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                      landing: LandingZoneResource) -> dg.MaterializeResult:
    """Electricity rates and their price periods (gross prices, local times) that landed on this day.

    Records are rates and price-period groups (`{weekDay|date, periods[]}`); a group expands into one
    `electricity_rate_periods` row per period. A rate or group that appears twice (two snapshots on one
    day) with the same content counts once; with other content, every copy is CONFLICTING_VERSION.
    """
    run = rate_run()
    result, files = _ingest(context, landing, "platform/electricity_rates", page_reader(run.source, _rate_records), run)
    return write_ingest(context, warehouse, result, files=files, extra_metadata={
        "price_period_groups_accepted": result.accepted_records - result.accepted.height})


PARSE_ASSETS = [platform_cdrs, platform_sessions, consumption_stats, platform_tariffs, electricity_rates]
