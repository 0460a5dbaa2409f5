"""The `ocpi_cdrs` asset: OCPI CDR files of one landing date → validated rows + quarantine.

Files (assets/ingest/common/files.py): a `.jsonl`/`.ndjson` line is one CDR; a `.json` file is one CDR, a
list of CDRs or an OCPI response page `{"data": [...]}`; compressed files are read; anything else is
UNSUPPORTED_FILE.

Version rule: a CDR is identified by its party and id (`session_id`) and versioned by `last_updated`.
The same CDR delivered again is DUPLICATE_RECORD; the same id and `last_updated` with other content is
CONFLICTING_VERSION (every copy of the day); a later `last_updated` is a correction, accepted as a new version
(`sessions` keeps the newest). Earlier landing days count too: a CDR identical to one accepted on an earlier
day is DUPLICATE_RECORD, one with its id and `last_updated` but other content CONFLICTING_VERSION (the earlier
copy stays accepted in its own partition, so `sessions` never silently picks between two contents).
"""


import datetime as dt
from functools import partial
from operator import itemgetter

import dagster as dg
import polars as pl

from assets.checks import ingest_check_specs
from assets.ingest.common import IngestRun, LandedFile, RecordReader, Rejected, VersionRule, day_files, guards, write_ingest
from assets.ingest.common.files import landed_files, read_document
from assets.ingest.common.jsonvalue import decode_json
from assets.ingest.common.run import earlier_identities
from assets.ingest.ocpi_cdrs.parse import LocationInfo, parse_cdr
from assets.ingest.ocpi_cdrs.tables import OCPI_CDRS
from assets.ocpi_json import snake_keys
from assets.partitions import daily
from assets.reference import locations
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource

SOURCE = "ocpi_cdr_file"
LANDING_SOURCE = "ocpi_cdrs"


def cdr_records(body, file: LandedFile) -> list:
    """The CDRs of a `.json` file: one CDR, a list of CDRs or an OCPI page `{"data": ...}`."""
    items = body.get("data") if isinstance(body, dict) and "data" in body else body
    if isinstance(items, dict):
        return [items]
    if not isinstance(items, list):
        raise Rejected("NOT_AN_OBJECT", "file holds neither a CDR, a list nor a page")
    return items


READER = RecordReader(source=SOURCE, extract=cdr_records)
VERSIONS = VersionRule(key=itemgetter("session_id"), version=itemgetter("last_updated"), describe="CDR id and last_updated")


def known_ocpi_tariffs(landing: LandingZoneResource) -> dict[str, str]:
    """Tariff id → currency of the OCPI tariff files in `tariffs/ocpi/` (unreadable files are ignored here;
    the tariff ingest reports them)."""
    known: dict[str, str] = {}
    for file in landed_files(landing.root_path, landing.source_dir("tariffs/ocpi")):
        if file.layout != "document":
            continue
        try:
            body = snake_keys(decode_json(read_document(file)))
        except Rejected:
            continue
        items = body.get("data", body) if isinstance(body, dict) else body
        for tariff in items if isinstance(items, list) else [items]:
            if isinstance(tariff, dict) and tariff.get("id") is not None and not isinstance(tariff["id"], (dict, list)):
                known[str(tariff["id"])] = tariff.get("currency")
    return known


def earlier_cdrs(warehouse: WarehouseResource | None, landing_date: dt.date, session_ids: list[str]) -> pl.DataFrame | None:
    """Identities of the CDRs with these ids accepted on earlier landing days (only the ids of this day are read)."""
    if warehouse is None or not session_ids or not warehouse.has_data(OCPI_CDRS.name):
        return None
    earlier = (warehouse.scan(OCPI_CDRS.name, session_id=session_ids).filter(pl.col("landing_date") < landing_date)
               .select("record_ref", "session_id", "last_updated", "raw_payload").collect())
    return earlier_identities(earlier["record_ref"].to_list(), earlier["session_id"].to_list(),
                              earlier["last_updated"].to_list(), earlier["raw_payload"].to_list())


def _parse_cdr(value, record, *, location_info: dict[str, LocationInfo], tariffs: dict[str, str],
               window: guards.TimeWindow) -> dict:
    return parse_cdr(value, location_info, tariffs, window)


def ingest_cdr_files(files: list[LandedFile], location_info: dict[str, LocationInfo], tariffs: dict[str, str],
                     landing_date: dt.date, warehouse: WarehouseResource | None = None):
    """Every CDR of the files, read in batches, parsed and versioned against this day and the earlier landing
    days in `warehouse` (when given): the partition's `IngestResult`."""
    window = guards.window_for(landing_date)
    run = IngestRun(source=SOURCE, spec=OCPI_CDRS, versions=VERSIONS,
                    parse=partial(_parse_cdr, location_info=location_info, tariffs=tariffs, window=window))
    run.read(READER, files)
    return run.finish(earlier=earlier_cdrs(warehouse, landing_date, run.keys()))


@dg.asset(
    partitions_def=daily,
    group_name="ingest",
    deps=[locations],
    check_specs=ingest_check_specs("ocpi_cdrs"),
    kinds={"polars", "parquet"},
)
def ocpi_cdrs(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
              landing: LandingZoneResource) -> dg.MaterializeResult:
    """OCPI CDRs (2.1.1, 2.2.1, 2.3.0; snake_case or camelCase) that landed on this day, validated.

    Every record is accepted into `ocpi_cdrs` or quarantined with a reason (malformed JSON, missing or
    mistyped fields, values out of range, dates outside the day's window, unknown tariff, currency not
    ISO 4217 or mismatched, no time zone, re-delivery, conflicting version). The settlement date of each
    CDR is the local date of its end at its location.
    """
    landing_date = dt.date.fromisoformat(context.partition_key)
    files = day_files(landing, LANDING_SOURCE, landing_date)
    location_info = {
        r["location_id"]: LocationInfo(r["time_zone"], r["operator_id"])
        for r in warehouse.read("locations").iter_rows(named=True)
    }
    result = ingest_cdr_files(files, location_info, known_ocpi_tariffs(landing), landing_date, warehouse)
    kwh = result.accepted.select(pl.col("energy_wh").sum()).item() or 0.0
    return write_ingest(context, warehouse, result, files=len(files), extra_metadata={"energy_kwh": round(kwh / 1000, 3)})
