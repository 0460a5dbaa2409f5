"""The `ocpi_cdrs` asset: OCPI CDR files of one landing date → validated rows + quarantine."""


import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import polars as pl

from assets.checks import conservation_result, ingest_check_specs, schema_result
from assets.ingest.ocpi_cdrs.parse import LocationInfo, Rejected, parse_cdr
from assets.ingest.ocpi_cdrs.tables import OCPI_CDRS
from assets.ocpi_json import snake_keys
from assets.partitions import daily
from assets.quarantine import QUARANTINE, Rejection, quarantine_frame
from assets.reference import locations
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource

SOURCE = "ocpi_cdr_file"
LANDING_SOURCE = "ocpi_cdrs"


@dataclass
class RawRecord:
    """One CDR body as delivered, with where it was read from."""

    ref: str
    text: str


@dataclass
class ReadResult:
    """CDR records read from files, plus the files that could not be split into records."""

    records: list[RawRecord] = field(default_factory=list)
    unreadable: list[Rejection] = field(default_factory=list)


def read_landed_records(files: list[Path], root: Path) -> ReadResult:
    """Split landed files into CDR records: a `.jsonl` line each, or each element of a `.json` page.

    A `.json` file that is not JSON at all cannot be split, so it is one quarantined record.
    """
    out = ReadResult()
    for path in files:
        name = str(path.relative_to(root))
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".jsonl":
            for number, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    out.records.append(RawRecord(f"{name}:{number}", line.strip()))
            continue
        try:
            body = json.loads(text)
        except json.JSONDecodeError as exc:
            out.unreadable.append(Rejection(SOURCE, name, "MALFORMED_JSON", f"file is not JSON: {exc.msg}", text))
            continue
        items = body.get("data") if isinstance(body, dict) and "data" in body else body
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list):
            out.unreadable.append(Rejection(SOURCE, name, "NOT_AN_OBJECT", "file holds neither a CDR, a list nor a page", text))
            continue
        for index, item in enumerate(items):
            out.records.append(RawRecord(f"{name}#{index}", json.dumps(item, separators=(",", ":"), ensure_ascii=False)))
    return out


def known_ocpi_tariffs(landing: LandingZoneResource) -> dict[str, str]:
    """Tariff id → currency of the OCPI tariff files in `tariffs/ocpi/` (unreadable files are ignored here;
    the tariff ingest reports them)."""
    known: dict[str, str] = {}
    folder = landing.source_dir("tariffs/ocpi")
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        try:
            body = snake_keys(json.loads(path.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        items = body.get("data", body) if isinstance(body, dict) else body
        for tariff in items if isinstance(items, list) else [items]:
            if isinstance(tariff, dict) and tariff.get("id") is not None:
                known[str(tariff["id"])] = tariff.get("currency")
    return known


def ingest_cdr_records(raw: ReadResult, location_info: dict[str, LocationInfo], tariffs: dict[str, str],
                       landing_date: dt.date) -> tuple[pl.DataFrame, list[Rejection]]:
    """Parse every record; exact re-deliveries of a CDR already accepted in this batch are DUPLICATE_RECORD."""
    accepted: list[dict] = []
    rejected = list(raw.unreadable)
    seen: dict[tuple[str, str], str] = {}
    for record in raw.records:
        try:
            row = parse_cdr(record.text, location_info, tariffs)
        except Rejected as exc:
            rejected.append(Rejection(SOURCE, record.ref, exc.code, exc.reason, record.text))
            continue
        canonical = json.dumps(json.loads(record.text), sort_keys=True)
        key = (row["session_id"], canonical)
        if key in seen:
            rejected.append(Rejection(SOURCE, record.ref, "DUPLICATE_RECORD",
                                      f"identical to {seen[key]} (same CDR delivered twice)", record.text))
            continue
        seen[key] = record.ref
        row.update(record_ref=record.ref, landing_date=landing_date, raw_payload=record.text)
        accepted.append(row)
    df = pl.DataFrame(accepted, schema=OCPI_CDRS.schema) if accepted else OCPI_CDRS.empty_frame()
    return df, rejected


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

    Every record is accepted into `ocpi_cdrs` or quarantined with a reason (malformed JSON, missing
    fields, unknown tariff, currency mismatch, no time zone, exact re-delivery). The settlement date of
    each CDR is the local date of its end at its location.
    """
    landing_date = dt.date.fromisoformat(context.partition_key)
    files = landing.files(LANDING_SOURCE, landing_date)
    raw = read_landed_records(files, landing.root_path)
    location_info = {
        r["location_id"]: LocationInfo(r["time_zone"], r["operator_id"])
        for r in warehouse.read("locations").iter_rows(named=True)
    }
    accepted, rejected = ingest_cdr_records(raw, location_info, known_ocpi_tariffs(landing), landing_date)
    warehouse.write_partition(OCPI_CDRS, accepted, landing_date=landing_date)
    quarantine = quarantine_frame(rejected)
    warehouse.write_partition(QUARANTINE, quarantine, source_asset="ocpi_cdrs", partition_key=context.partition_key)

    rows_in = len(raw.records) + len(raw.unreadable)
    reasons = quarantine.group_by("reason_code").len().sort("reason_code")
    kwh = accepted.select(pl.col("energy_wh").sum()).item() or 0.0
    return dg.MaterializeResult(
        metadata={
            "files": len(files),
            "rows_in": rows_in,
            "rows_accepted": accepted.height,
            "rows_quarantined": quarantine.height,
            "energy_kwh": round(kwh / 1000, 3),
            "dagster/row_count": accepted.height,
            "quarantine_reasons": dg.MetadataValue.md(
                "\n".join(f"- {code}: {n}" for code, n in reasons.iter_rows()) or "none"),
        },
        check_results=[
            conservation_result(rows_in, accepted.height, quarantine.height),
            schema_result(OCPI_CDRS, accepted),
            schema_result(QUARANTINE, quarantine, check_name="quarantine_schema"),
        ],
    )
