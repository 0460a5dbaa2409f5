"""The `interval_charges` asset: interval charge files of one landing date → charges, intervals, quarantine."""

import datetime as dt
import json

import dagster as dg
import polars as pl

from assets.checks import conservation_result, ingest_check_specs, schema_result
from assets.ingest.interval_charges.parse import parse_charge
from assets.ingest.interval_charges.tables import INTERVAL_CHARGE_INTERVALS, INTERVAL_CHARGES
from assets.ingest.ocpi_cdrs.parse import Rejected
from assets.partitions import daily
from assets.quarantine import QUARANTINE, Rejection, quarantine_frame
from assets.reference import locations
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource

SOURCE = "interval_charge"
LANDING_SOURCE = "interval_charges"


def _provider(file_name: str) -> str:
    """Files are named `<provider>-<seq>.json`."""
    return file_name.rsplit("-", 1)[0] if "-" in file_name else file_name.removesuffix(".json")


def _charge_row(parsed: dict, provider: str, ref: str, landing_date: dt.date, raw: str,
                point: dict | None) -> dict:
    duration = int((parsed["end"] - parsed["start"]).total_seconds())
    point = point or {}
    return {
        "landing_date": landing_date, "record_ref": ref,
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


def ingest_interval_files(landing: LandingZoneResource, landing_date: dt.date, zone_of: dict[str, str],
                          operator_zones: dict[str, str], points: dict[str, dict] | None = None):
    """Every charge of the day's files → (charge rows, interval rows, rejections, rows in)."""
    charges, intervals, rejected, rows_in = [], [], [], 0
    seen: dict[tuple[str, str], str] = {}
    for path in landing.files(LANDING_SOURCE, landing_date, suffixes=(".json",)):
        name = str(path.relative_to(landing.root_path))
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            body = json.loads(text)
        except json.JSONDecodeError as exc:
            rows_in += 1
            rejected.append(Rejection(SOURCE, name, "MALFORMED_JSON", f"file is not JSON: {exc.msg}", text))
            continue
        if not isinstance(body, dict) or not isinstance(body.get("charges"), list):
            rows_in += 1
            rejected.append(Rejection(SOURCE, name, "INVALID_DOCUMENT", "expected {\"charges\": [...]}", text))
            continue
        provider = _provider(path.name)
        for index, charge in enumerate(body["charges"]):
            rows_in += 1
            ref = f"{name}#{index}"
            raw = json.dumps(charge, sort_keys=True)
            try:
                parsed = parse_charge(charge, zone_of, operator_zones.get(provider))
            except Rejected as exc:
                rejected.append(Rejection(SOURCE, ref, exc.code, exc.reason, raw))
                continue
            key = (parsed["charge_point_id"], parsed["charge_id"])
            if key in seen:
                # The receiver of seed 000 treats the same id pair as a duplicate and ignores it; so do we.
                rejected.append(Rejection(SOURCE, ref, "DUPLICATE_RECORD", f"same chargeExternalId and "
                                          f"chargePointExternalId as {seen[key]}", raw))
                continue
            seen[key] = ref
            row = _charge_row(parsed, provider, ref, landing_date, raw, (points or {}).get(parsed["charge_point_id"]))
            charges.append(row)
            for start, end, kwh in parsed["intervals"]:
                intervals.append({"landing_date": landing_date, "session_id": row["session_id"],
                                  "settlement_date": parsed["settlement_date"], "interval_start_utc": start,
                                  "interval_end_utc": end, "energy_wh": float(kwh * 1000), "energy_kwh": kwh})
    charge_df = pl.DataFrame(charges, schema=INTERVAL_CHARGES.schema) if charges else INTERVAL_CHARGES.empty_frame()
    interval_df = (pl.DataFrame(intervals, schema=INTERVAL_CHARGE_INTERVALS.schema) if intervals
                   else INTERVAL_CHARGE_INTERVALS.empty_frame())
    return charge_df, interval_df, rejected, rows_in


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
    charges, intervals, rejected, rows_in = ingest_interval_files(landing, landing_date, zone_of, operator_zones, points)
    quarantine = quarantine_frame(rejected)
    warehouse.write_partition(INTERVAL_CHARGES, charges, landing_date=landing_date)
    warehouse.write_partition(INTERVAL_CHARGE_INTERVALS, intervals, landing_date=landing_date)
    warehouse.write_partition(QUARANTINE, quarantine, source_asset="interval_charges", partition_key=context.partition_key)
    return dg.MaterializeResult(
        metadata={"rows_in": rows_in, "rows_accepted": charges.height, "rows_quarantined": quarantine.height,
                  "intervals": intervals.height, "energy_kwh": round((charges["energy_wh"].sum() or 0) / 1000, 3),
                  "dagster/row_count": charges.height},
        check_results=[conservation_result(rows_in, charges.height, quarantine.height),
                       schema_result(INTERVAL_CHARGES, charges),
                       schema_result(QUARANTINE, quarantine, check_name="quarantine_schema"),
                       schema_result(INTERVAL_CHARGE_INTERVALS, intervals, check_name="intervals_schema")],
    )
