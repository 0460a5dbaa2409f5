"""The ingest sequence: guarded parse → frames per batch → versions → write partition + quarantine → checks.

`IngestRun` takes batches of raw records (files.RecordReader), parses each record with the source's
`parse(value, record)` inside a guard, turns each batch's rows into a frame at once (so no more than a
batch of Python dicts is alive), resolves duplicates across the day with the source's `VersionRule`, and
`write_ingest` writes the partition, the child tables and the quarantine slice and returns the
materialization with the conservation, schema and quarantine-schema checks.

Guard: whatever one record raises becomes one quarantine row, never a failed asset:

| raised | reason code |
|---|---|
| `Rejected(code, …)` | its code |
| RecursionError | NESTING_TOO_DEEP |
| OverflowError | VALUE_OUT_OF_RANGE |
| ValueError, TypeError, AttributeError, LookupError, ArithmeticError, UnicodeError | INVALID_RECORD |
| any other Exception | UNEXPECTED_ERROR |
| a row that does not fit the table's column types | SCHEMA_MISMATCH |

Duplicates (`VersionRule`): records are grouped by the source's id and version stamp. One content per
group: the first record (delivery order) is accepted, exact re-deliveries are DUPLICATE_RECORD. Two or
more contents under one id and version: no copy can be trusted, so every copy is CONFLICTING_VERSION, each
with its own payload and the references of the others. A newer version (another stamp) is never a conflict.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import polars as pl

from assets.checks import QUARANTINE_SCHEMA_CHECK, conservation_result, schema_result
from assets.ingest.common.files import Batch, RawRecord
from assets.ingest.common.jsonvalue import content_digest, decode_json
from assets.quarantine import QUARANTINE, Rejected, Rejection, quarantine_frame
from resources.tables import TableSpec
from resources.warehouse import WarehouseResource


@dataclass
class Accepted:
    """What a parser returns when one record gives more than one table row.

    `row` is the record's row in the main table (None when the record only has child rows, e.g. a price
    period group); `children` maps a child table name (declared in `IngestRun.children`) to its rows.
    """

    row: dict[str, Any] | None
    children: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # identity for the VersionRule when there is no row to read it from (or to override it)
    key: Any = None
    version: Any = None


Parse = Callable[[Any, RawRecord], "dict[str, Any] | Accepted"]


@dataclass(frozen=True)
class VersionRule:
    """A source's identity and versioning rule, read from an accepted row.

    `key(row)` is the record's id (None: never grouped); `version(row)` the source's version stamp
    (e.g. last-updated; None for sources whose records never change, where any other content under the
    same id is a conflict). `describe` names the rule in quarantine reasons.
    """

    key: Callable[[dict[str, Any]], Any]
    version: Callable[[dict[str, Any]], Any] | None = None
    describe: str = "id and version"


_INVALID = (ValueError, TypeError, AttributeError, LookupError, ArithmeticError, UnicodeError)


def rejection_of(exc: BaseException, source: str, ref: str, raw: str) -> Rejection:
    """The quarantine row for an exception raised while reading one record."""
    if isinstance(exc, Rejected):
        return Rejection(source, ref, exc.code, exc.reason, raw)
    if isinstance(exc, RecursionError):
        code = "NESTING_TOO_DEEP"
    elif isinstance(exc, OverflowError):
        code = "VALUE_OUT_OF_RANGE"
    elif isinstance(exc, _INVALID):
        code = "INVALID_RECORD"
    else:
        code = "UNEXPECTED_ERROR"
    message = str(exc)
    message = message if len(message) <= 200 else message[:197] + "..."
    return Rejection(source, ref, code, f"{type(exc).__name__}: {message}" if message else type(exc).__name__, raw)


def guarded_parse(parse: Parse, record: RawRecord, source: str) -> tuple[Any, Accepted | None, Rejection | None]:
    """(decoded value, accepted, None) or (value or None, None, rejection): never raises for a bad record."""
    value = None
    try:
        value = record.json()
        result = parse(value, record)
        return value, result if isinstance(result, Accepted) else Accepted(result), None
    except Exception as exc:  # noqa: BLE001 - the guard: one record never fails the asset
        return value, None, rejection_of(exc, source, record.ref, record.text)


_REF = "__ref"
_IDENTITY_SCHEMA = {"__ref": pl.String(), "__key": pl.String(), "__version": pl.String(), "__digest": pl.Binary(),
                    "__seq": pl.Int64(), "__raw": pl.String()}


def rows_frame(spec: TableSpec, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows → a frame of the table's data columns (strict types; missing keys are null)."""
    schema = {c: spec.schema[c] for c in spec.data_columns}
    if not rows:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame(rows, schema=schema, strict=True)


@dataclass(frozen=True)
class StreamedRows:
    """Accepted rows a ``PartitionWriter`` already wrote to the partition, batch by batch (so the day is
    never one frame): how many, and their schema check (``checks.BucketSchemaCheck``)."""

    rows: int
    schema: dg.AssetCheckResult


@dataclass
class IngestResult:
    """One partition's outcome, ready to write: accepted rows (a frame, or ``StreamedRows`` already
    written), child rows, quarantine, counts."""

    spec: TableSpec
    accepted: pl.DataFrame | StreamedRows
    children: dict[str, tuple[TableSpec, pl.DataFrame]]
    quarantine: pl.DataFrame
    rows_in: int
    accepted_records: int

    @property
    def reasons(self) -> dict[str, int]:
        """Quarantined records per reason code."""
        return dict(Counter(self.quarantine.get_column("reason_code").to_list()))


class IngestRun:
    """Accumulates one partition of one ingest asset, batch by batch."""

    def __init__(self, *, source: str, spec: TableSpec, parse: Parse, versions: VersionRule | None = None,
                 children: dict[str, TableSpec] | None = None, keep_raw_payload: bool = True):
        self.source = source
        self.spec = spec
        self.parse = parse
        self.versions = versions
        self.children_specs = children or {}
        # fill `record_ref` / `raw_payload` from the record when the table has them and the parser did not
        self._fill_ref = "record_ref" in spec.data_columns
        self._fill_raw = keep_raw_payload and "raw_payload" in spec.data_columns
        self.rows_in = 0
        self._rowless_refs: list[str] = []  # accepted records without a main-table row (only child rows)
        self._frames: list[pl.DataFrame] = []
        self._child_frames: dict[str, list[pl.DataFrame]] = {name: [] for name in self.children_specs}
        self._identities: list[pl.DataFrame] = []
        self._rejected: list[Rejection] = []
        self._seq = 0

    def add_all(self, batches: Iterable[Batch]) -> IngestRun:
        """Add every batch; returns self."""
        for batch in batches:
            self.add(batch)
        return self

    def reject(self, rejections: Iterable[Rejection]) -> None:
        """Records rejected before parsing (they count in `rows in`)."""
        for rejection in rejections:
            self.rows_in += 1
            self._rejected.append(rejection)

    def add(self, batch: Batch) -> None:
        """Parse one batch and keep its rows as frames."""
        self.reject(batch.rejected)
        rows: list[dict[str, Any]] = []
        row_refs: list[str] = []
        row_raw: list[str] = []
        identities: list[tuple] = []
        children: dict[str, list[dict[str, Any]]] = {name: [] for name in self.children_specs}
        for record in batch.records:
            self.rows_in += 1
            self._seq += 1
            value, accepted, rejection = guarded_parse(self.parse, record, self.source)
            if rejection is None and self.versions is not None:
                try:
                    identities.append(self._identity(accepted, value, record))
                except Exception as exc:  # noqa: BLE001 - an id that cannot be read is the record's fault
                    rejection = rejection_of(exc, self.source, record.ref, record.text)
            if rejection is not None:
                self._rejected.append(rejection)
                continue
            for name, child_rows in accepted.children.items():
                children[name] += [{**child, _REF: record.ref} for child in child_rows]
            row = accepted.row
            if row is None:
                self._rowless_refs.append(record.ref)
                continue
            if self._fill_ref:
                row.setdefault("record_ref", record.ref)
            if self._fill_raw:
                row.setdefault("raw_payload", record.text)
            rows.append(row)
            row_refs.append(record.ref)
            row_raw.append(record.text)
        bad = self._keep_rows(rows, row_refs, row_raw)
        bad_children = self._keep_children(children, bad, {r.ref: r for r in batch.records})
        if bad_children and self._frames:
            self._frames[-1] = self._frames[-1].filter(~pl.col(_REF).is_in(list(bad_children)))
        bad |= bad_children
        if bad:
            self._rowless_refs = [ref for ref in self._rowless_refs if ref not in bad]
        if identities:
            frame = pl.DataFrame(identities, schema=_IDENTITY_SCHEMA, orient="row")
            self._identities.append(frame.filter(~pl.col(_REF).is_in(list(bad))) if bad else frame)

    def _identity(self, accepted: Accepted, value: Any, record: RawRecord) -> tuple:
        key, version = accepted.key, accepted.version
        if key is None and accepted.row is not None:
            key = self.versions.key(accepted.row)
            if version is None and self.versions.version is not None:
                version = self.versions.version(accepted.row)
        digest = content_digest(value) if key is not None else None
        return (record.ref, None if key is None else str(key), None if version is None else str(version), digest,
                self._seq, record.text)

    def _keep_rows(self, rows: list[dict[str, Any]], refs: list[str], raws: list[str]) -> set[str]:
        """Keep the batch's rows as a frame; a row that does not fit the column types is quarantined
        (SCHEMA_MISMATCH). Returns the references of such rows."""
        if not rows:
            return set()
        bad: set[str] = set()
        try:
            frame = rows_frame(self.spec, rows)
        except Exception:  # noqa: BLE001 - find the offending rows one by one (rare path)
            keep = []
            for index, row in enumerate(rows):
                try:
                    rows_frame(self.spec, [row])
                    keep.append(index)
                except Exception as exc:  # noqa: BLE001
                    bad.add(refs[index])
                    self._rejected.append(Rejection(self.source, refs[index], "SCHEMA_MISMATCH",
                                                    f"row does not fit the table's columns: {type(exc).__name__}: "
                                                    f"{str(exc)[:200]}", raws[index]))
            frame = rows_frame(self.spec, [rows[i] for i in keep])
            refs = [refs[i] for i in keep]
        self._frames.append(frame.with_columns(pl.Series(_REF, refs, pl.String())))
        return bad

    def _keep_children(self, children: dict[str, list[dict[str, Any]]], bad: set[str],
                       records: dict[str, RawRecord]) -> set[str]:
        """Keep the batch's child rows as frames; a record with a child row that does not fit is quarantined
        whole (SCHEMA_MISMATCH). Returns the references of such records."""
        frames: dict[str, tuple[list[dict[str, Any]], list[str], pl.DataFrame | None]] = {}
        bad_records: set[str] = set()
        for name, child_rows in children.items():
            child_rows = [c for c in child_rows if c[_REF] not in bad]
            refs = [c.pop(_REF) for c in child_rows]
            built = None
            try:
                built = rows_frame(self.children_specs[name], child_rows)
            except Exception:  # noqa: BLE001 - rare path: find the records whose rows do not fit
                for index, row in enumerate(child_rows):
                    try:
                        rows_frame(self.children_specs[name], [row])
                    except Exception as exc:  # noqa: BLE001
                        if refs[index] not in bad_records:
                            bad_records.add(refs[index])
                            self._rejected.append(Rejection(
                                self.source, refs[index], "SCHEMA_MISMATCH",
                                f"a {name} row does not fit the table's columns: {type(exc).__name__}: {str(exc)[:200]}",
                                records[refs[index]].text))
            frames[name] = (child_rows, refs, built)
        for name, (child_rows, refs, built) in frames.items():
            keep = [i for i, ref in enumerate(refs) if ref not in bad_records]
            if keep:
                # Every row kept (the common case): the frame built to check them is the frame.
                frame = built if built is not None and len(keep) == len(child_rows) else \
                    rows_frame(self.children_specs[name], [child_rows[i] for i in keep])
                self._child_frames[name].append(frame.with_columns(pl.Series(_REF, [refs[i] for i in keep], pl.String())))
        return bad_records

    def keys(self) -> list[str]:
        """The identities (VersionRule keys) of the records accepted so far, for looking up earlier days."""
        if not self._identities:
            return []
        frames = pl.concat(self._identities, how="vertical")
        return frames.get_column("__key").drop_nulls().unique().sort().to_list()

    def finish(self, earlier: pl.DataFrame | None = None) -> IngestResult:
        """Resolve duplicates across the day and return the partition's outcome.

        `earlier`: identities accepted on earlier landing days (`earlier_identities`); a record of this
        day identical to one of them is DUPLICATE_RECORD, one with the same id and version but other
        content CONFLICTING_VERSION (the earlier copy stays where it was accepted).
        """
        schema = {c: self.spec.schema[c] for c in self.spec.data_columns} | {_REF: pl.String()}
        accepted = pl.concat(self._frames, how="vertical") if self._frames else pl.DataFrame(schema=schema)
        self._frames = []
        version_rejects = quarantine_frame([])
        if self._identities:
            identities = pl.concat(self._identities, how="vertical")
            self._identities = []
            version_rejects = resolve_versions(identities, self.source, self.versions.describe, earlier)
        removed = version_rejects.get_column("record_ref")
        if removed.len():
            accepted = accepted.filter(~pl.col(_REF).is_in(removed.implode()))
        children = {}
        for name, frames in self._child_frames.items():
            child_spec = self.children_specs[name]
            frame = (pl.concat(frames, how="vertical") if frames
                     else rows_frame(child_spec, []).with_columns(pl.lit(None, pl.String()).alias(_REF)))
            if removed.len():
                frame = frame.filter(~pl.col(_REF).is_in(removed.implode()))
            children[name] = (child_spec, frame.drop(_REF))
        quarantine = pl.concat([quarantine_frame(self._rejected), version_rejects], how="vertical")
        # counted from what is kept, independently of the quarantine, so the conservation check can fail
        removed_set = set(removed.to_list())
        accepted_records = accepted.height + sum(1 for ref in self._rowless_refs if ref not in removed_set)
        return IngestResult(self.spec, accepted.drop(_REF), children, quarantine, self.rows_in, accepted_records)


def earlier_identities(refs: list[str], keys: list[Any], versions: list[Any], payloads: list[str]) -> pl.DataFrame:
    """Identities of records accepted on earlier landing days (reference, key, version, raw payload)."""
    digests = [content_digest(decode_json(p)) for p in payloads]
    return pl.DataFrame({"__ref": refs, "__key": [str(k) for k in keys],
                         "__version": [None if v is None else str(v) for v in versions], "__digest": digests},
                        schema={k: _IDENTITY_SCHEMA[k] for k in ("__ref", "__key", "__version", "__digest")})


def resolve_versions(identities: pl.DataFrame, source: str, describe: str,
                     earlier: pl.DataFrame | None = None) -> pl.DataFrame:
    """The quarantine rows (DUPLICATE_RECORD, CONFLICTING_VERSION) among accepted records' identities.

    Earlier days' identities take part in the groups (ranked first) but are never quarantined here.
    """
    group = ["__key", "__version"]
    today = identities.with_columns(pl.lit(False).alias("__earlier"))
    if earlier is not None and earlier.height:
        past = earlier.with_columns(pl.lit(0, pl.Int64()).alias("__seq"), pl.lit(None, pl.String()).alias("__raw"),
                                    pl.lit(True).alias("__earlier")).select(today.columns)
        today = pl.concat([past, today], how="vertical")
    marked = today.filter(pl.col("__key").is_not_null()).with_columns(
        pl.col("__digest").n_unique().over(group).alias("__contents"),
        pl.col("__seq").rank("ordinal").over(group).alias("__rank"),
        pl.col(_REF).sort_by("__seq").first().over(group).alias("__first"),
        pl.col(_REF).sort_by("__seq").str.join(", ").over(group).alias("__all"),
    )
    conflict = (pl.col("__contents") > 1) & ~pl.col("__earlier")
    duplicate = (pl.col("__contents") == 1) & (pl.col("__rank") > 1) & ~pl.col("__earlier")
    return marked.filter(conflict | duplicate).sort("__seq", _REF).select(
        pl.lit(source).alias("source"),
        pl.col(_REF).alias("record_ref"),
        pl.when(conflict).then(pl.lit("CONFLICTING_VERSION")).otherwise(pl.lit("DUPLICATE_RECORD")).alias("reason_code"),
        pl.when(conflict)
        .then(pl.format("same {} ({}) delivered with different content in {}: every copy is quarantined",
                        pl.lit(describe), pl.concat_str([pl.col("__key"), pl.col("__version").fill_null("-")],
                                                        separator=" @ "), pl.col("__all")))
        .otherwise(pl.format("exact re-delivery of {} (same {} and content)", pl.col("__first"), pl.lit(describe)))
        .alias("reason"),
        pl.col("__raw").alias("raw_payload"),
    ).cast(quarantine_frame([]).schema)


def write_ingest(context: dg.AssetExecutionContext, warehouse: WarehouseResource, result: IngestResult, *,
                 files: int, extra_metadata: dict[str, Any] | None = None,
                 extra_checks: list[dg.AssetCheckResult] | None = None) -> dg.MaterializeResult:
    """Write the partition, its child tables and the quarantine slice; return metadata and the three checks.

    Child tables are written under the same landing date; their schema results are for `extra_checks`
    of the caller when it declares such checks. Accepted rows given as ``StreamedRows`` are already in
    the partition (written and atomically replaced by a ``PartitionWriter``); the rest of the sequence
    is the same.
    """
    landing_date = dt.date.fromisoformat(context.partition_key)
    if isinstance(result.accepted, StreamedRows):
        accepted_rows, accepted_schema = result.accepted.rows, result.accepted.schema
    else:
        warehouse.write_partition(result.spec, result.accepted, landing_date=landing_date)
        accepted_rows, accepted_schema = result.accepted.height, schema_result(result.spec, result.accepted)
    child_counts = {}
    for name, (child_spec, frame) in result.children.items():
        warehouse.write_partition(child_spec, frame, landing_date=landing_date)
        child_counts[f"rows_{name}"] = frame.height
    asset_name = context.assets_def.key.to_user_string() if context.has_assets_def else result.spec.name
    warehouse.write_partition(QUARANTINE, result.quarantine, source_asset=asset_name, partition_key=context.partition_key)
    reasons = sorted(result.reasons.items())
    metadata: dict[str, Any] = {
        "files": files, "rows_in": result.rows_in, "rows_accepted": result.accepted_records,
        "rows_quarantined": result.quarantine.height,
        "rows_redelivered": result.reasons.get("DUPLICATE_RECORD", 0),
        "dagster/row_count": accepted_rows, **child_counts, **(extra_metadata or {}),
        "quarantine_reasons": dg.MetadataValue.md("\n".join(f"- {c}: {n}" for c, n in reasons) or "none"),
    }
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            conservation_result(result.rows_in, result.accepted_records, result.quarantine.height),
            accepted_schema,
            schema_result(QUARANTINE, result.quarantine, check_name=QUARANTINE_SCHEMA_CHECK),
            *(extra_checks or []),
        ],
    )
