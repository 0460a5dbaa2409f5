"""The `interval_charges` asset: interval charge files of one landing date → charges, intervals, quarantine.

Files are `{"charges": [...]}` documents named `<provider>-<seq>.json` (compressed or not). Version rule:
a charge is identified by (chargePointExternalId, chargeExternalId) and has no version stamp; the seed's
receiver ignores a re-sent pair, so an exact re-delivery is DUPLICATE_RECORD and the same pair with other
content is CONFLICTING_VERSION (every copy).
"""

import datetime as dt
from decimal import Decimal
from functools import partial
from operator import itemgetter
from pathlib import PurePosixPath

import dagster as dg
import polars as pl

from assets.checks import ingest_check_specs, schema_result
from assets.ingest.common import (DOCUMENT, Accepted, IngestResult, IngestRun, LandedFile, RecordReader, Rejected,
                                  VersionRule, canonical_bytes, day_files, guards, write_ingest)
from assets.ingest.interval_charges.parse import parse_charge
from assets.ingest.interval_charges.tables import INTERVAL_CHARGE_INTERVALS, INTERVAL_CHARGES
from assets.partitions import daily
from assets.reference import locations
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource

SOURCE = "interval_charge"
LANDING_SOURCE = "interval_charges"


def _provider(record_ref: str) -> str:
    """Files are named `<provider>-<seq>.json` (optionally compressed); a record ref is `<path>#<index>`."""
    name = PurePosixPath(record_ref.split("#", 1)[0]).name
    stem = name.split(".", 1)[0]
    return stem.rsplit("-", 1)[0] if "-" in stem else stem


def _charges(body, file: LandedFile) -> list:
    if not isinstance(body, dict) or not isinstance(body.get("charges"), list):
        raise Rejected("INVALID_DOCUMENT", "expected {\"charges\": [...]}")
    return body["charges"]


READER = RecordReader(source=SOURCE, layouts=(DOCUMENT,), extract=_charges)
VERSIONS = VersionRule(key=itemgetter("_point", "source_id"), describe="chargePointExternalId and chargeExternalId")


def _charge_row(parsed: dict, provider: str, raw: str, point: dict | None) -> dict:
    duration = guards.duration_s(Decimal((parsed["end"] - parsed["start"]).total_seconds()), "charge duration")
    point = point or {}
    return {
        "_point": parsed["charge_point_id"],
        "session_id": f"interval:{provider}:{parsed['charge_point_id']}:{parsed['charge_id']}",
        "source": "interval", "source_id": parsed["charge_id"], "session_ref": parsed["charge_id"],
        "operator_id": point.get("operator_id") or provider, "location_id": point.get("location_id"),
        "evse_uid": point.get("evse_uid"), "connector_id": None,
        "auth_id": None, "auth_method": None,
        # A home charge's customer is the household the charge point belongs to.
        "emsp_id": None, "customer_id": f"{provider}:{parsed['charge_point_id']}", "start_utc": parsed["start"], "end_utc": parsed["end"],
        "time_zone": parsed["time_zone"], "settlement_date": parsed["settlement_date"],
        "energy_wh": float(parsed["total_kwh"] * 1000), "total_time_s": duration, "parking_time_s": 0,
        "currency": None, "tariff_ids": [], "reported_cost_excl_vat": None, "reported_cost_incl_vat": None,
        "is_credit": False, "credit_reference_id": None, "last_updated": parsed["end"],
        "has_intervals": bool(parsed["intervals"]), "interval_count": len(parsed["intervals"]),
        "repairs": parsed["repairs"], "raw_payload": raw,
    }


def _parse_charge(value, record, *, zone_of: dict[str, str], operator_zones: dict[str, str],
                  points: dict[str, dict], window: guards.TimeWindow) -> Accepted:
    provider = _provider(record.ref)
    parsed = parse_charge(value, zone_of, operator_zones.get(provider), window)
    row = _charge_row(parsed, provider, canonical_bytes(value).decode(), points.get(parsed["charge_point_id"]))
    intervals = [{"session_id": row["session_id"], "settlement_date": parsed["settlement_date"],
                  "interval_start_utc": start, "interval_end_utc": end, "energy_wh": float(kwh * 1000),
                  "energy_kwh": kwh} for start, end, kwh in parsed["intervals"]]
    return Accepted(row, {"intervals": intervals})


def ingest_interval_files(files: list[LandedFile], landing_date: dt.date, zone_of: dict[str, str],
                          operator_zones: dict[str, str], points: dict[str, dict] | None = None) -> IngestResult:
    """Every charge of the day's files → the partition's `IngestResult` (charges, intervals, quarantine)."""
    parse = partial(_parse_charge, zone_of=zone_of, operator_zones=operator_zones, points=points or {},
                    window=guards.window_for(landing_date))
    run = IngestRun(source=SOURCE, spec=INTERVAL_CHARGES, parse=parse, versions=VERSIONS,
                    children={"intervals": INTERVAL_CHARGE_INTERVALS})
    return run.read(READER, files).finish()


@dg.asset(partitions_def=daily, group_name="ingest", deps=[locations],
          check_specs=[*ingest_check_specs("interval_charges"),
                       dg.AssetCheckSpec("intervals_schema", asset="interval_charges",
                                         description="Delivered intervals are at most 30 minutes and non-negative.")],
          kinds={"polars", "parquet"})
def interval_charges(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                     landing: LandingZoneResource) -> dg.MaterializeResult:
    """Home and workplace charges delivered as 30-minute interval data (seed 000 shape) on this landing day.

    Checks per charge that intervals are clock-aligned (local half hours), non-overlapping, inside the
    charge and sum to its total; a charge that fails is quarantined whole, with the rule it broke.
    """
    landing_date = dt.date.fromisoformat(context.partition_key)
    # A charge point is found by its OCPP identity among the EVSEs, or by a location id.
    location_rows = warehouse.read("locations")
    evse_rows = warehouse.read("evses").filter(pl.col("charge_point_id").is_not_null())
    zone_of = dict(zip(location_rows["location_id"].to_list(), location_rows["time_zone"].to_list()))
    zone_of.update(zip(evse_rows["charge_point_id"].to_list(), evse_rows["time_zone"].to_list()))
    points = {r["charge_point_id"]: r for r in evse_rows.iter_rows(named=True)}
    operator_rows = warehouse.read("operators")
    operator_zones = dict(zip(operator_rows["operator_id"].to_list(), operator_rows["time_zone"].to_list()))
    files = day_files(landing, LANDING_SOURCE, landing_date)
    result = ingest_interval_files(files, landing_date, zone_of, operator_zones, points)
    _, intervals = result.children["intervals"]
    return write_ingest(context, warehouse, result, files=len(files), extra_metadata={
        "intervals": intervals.height, "energy_kwh": round((result.accepted["energy_wh"].sum() or 0) / 1000, 3)},
        extra_checks=[schema_result(INTERVAL_CHARGE_INTERVALS, intervals, check_name="intervals_schema")])
