"""One ingest framework for every source: landed files → records → guarded parse → partition + quarantine.

An ingest asset states only what is particular to its source — where its files land, how a document
splits into records, how one record becomes a row, and its identity/versioning rule — and runs the one
sequence below. Every record really in the files is counted once in `rows in` and is either accepted
or quarantined with a reason code and its raw text: `rows in = accepted + quarantined`, always.

    from assets.ingest.common import (IngestRun, RecordReader, VersionRule, day_files, guards, write_ingest)

    reader = RecordReader(source="ocpi_cdr_file", extract=ocpi_records)      # files.py
    files = day_files(landing, "ocpi_cdrs", context.partition_key)          # every suffix, sorted
    window = guards.window_for(context.partition_key)                       # timestamps allowed this day
    run = IngestRun(source="ocpi_cdr_file", spec=OCPI_CDRS,
                    parse=partial(parse_one_cdr, locations=..., window=window),     # picklable: see below
                    versions=VersionRule(key=itemgetter("session_id"), describe="CDR id"))
    run.read(reader, files)                   # bounded batches; guarded parse; rows become a frame per batch
    result = run.finish()                     # duplicates / conflicting versions across the day
    return write_ingest(context, warehouse, result, files=len(files), extra_metadata={...})

Modules:
- `files`: which files count (`.jsonl`, `.ndjson`, `.json`, any case, optionally `.gz`/`.zst`; any other
  file is one UNSUPPORTED_FILE record), lines split on "\\n" only, documents split by the source's
  `extract`, bounded batches (`RecordReader.batches`), corrupt or oversized input as quarantine records.
- `jsonvalue`: `decode_json` (orjson; size and depth limits), `canonical_bytes`, `content_digest`.
- `guards`: value guards every parser uses (finite numbers, energy/power/duration ranges, exact money,
  timestamps inside a configurable `TimeWindow`, ISO 4217 currencies, JSON types of fields).
- `run`: `IngestRun` (guarded parse: any exception of one record is one quarantine row), `VersionRule`
  (DUPLICATE_RECORD / CONFLICTING_VERSION), `Accepted` (a record with child-table rows), `write_ingest`
  (partition, child tables, quarantine slice, metadata, conservation + schema + quarantine checks).
- `keyset`: `KeySet`, a compact set of 128-bit record keys (sorted numpy arrays) for dedup state.

Parsers are pure functions `parse(value, record) -> row dict | Accepted` that raise `Rejected(code, reason)`
(assets/quarantine.py) for a rule they enforce; anything else they raise is caught and coded by the guard.
`IngestRun.read` parses a day of `run.POOLED_INGEST_BYTES` or more on a pool of worker processes (the step's
process reads the files and sends batches of records; results come back in order, so the partition is the same
byte for byte), so a parser and the `VersionRule` functions are module-level functions, `functools.partial` of
them or `operator.itemgetter`s, never lambdas or closures. `run.add(batch)` / `run.add_all(batches)` parse in
the step's process.

A columnar source (OCPP frames) may parse each `Batch` its own way (e.g. a whole batch with polars) and
build the `IngestResult` itself — accepted frame, child frames, `quarantine_frame(rejections)`, `rows_in`
= the sum of `Batch.size` — then call `write_ingest`; `rejection_of(exc, source, ref, raw)` codes any
exception of one record the same way the guard does. A partition too large for one frame is written
batch by batch with `warehouse.partition_writer(...)`; its `IngestResult.accepted` is then
`StreamedRows(rows, schema_check)` (`checks.BucketSchemaCheck` validates each bucket as it is written)
and `write_ingest` runs the same sequence without writing the rows again (see `ocpp_messages`).
`RecordReader.line_batches` gives a lines source the same batches as columns (`LineBatch`: refs as a polars
String series and texts as one Arrow array, also given as a String series, cut from blocks of several MB; no
Python object per line).
"""

from __future__ import annotations

import datetime as dt

from assets.ingest.common import guards
from assets.ingest.common.files import (DOCUMENT, LINES, Batch, LandedFile, LineBatch, RawRecord, RecordReader, landed_files,
                                        lines_of, read_all)
from assets.ingest.common.jsonvalue import canonical_bytes, content_digest, decode_json
from assets.ingest.common.run import (Accepted, IngestResult, IngestRun, StreamedRows, VersionRule, guarded_parse,
                                      rejection_of, write_ingest)
from assets.quarantine import Rejected, Rejection
from resources.landing import LandingZoneResource


def day_files(landing: LandingZoneResource, source: str, landing_date: dt.date | str) -> list[LandedFile]:
    """Every file of `source` (e.g. `ocpi_cdrs`, `platform/cdrs`) that landed on the day, in name order."""
    return landed_files(landing.root_path, landing.day_dir(source, landing_date))


__all__ = [
    "Accepted", "Batch", "DOCUMENT", "IngestResult", "IngestRun", "LINES", "LandedFile", "LineBatch", "RawRecord", "RecordReader", "StreamedRows",
    "Rejected", "Rejection", "VersionRule", "canonical_bytes", "content_digest", "day_files", "decode_json", "guarded_parse",
    "guards", "landed_files", "lines_of", "read_all", "rejection_of", "write_ingest",
]
