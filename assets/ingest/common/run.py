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
from assets.ingest.common.jsonvalue import content_digest
from assets.quarantine import QUARANTINE, QUARANTINE_SCHEMA, Rejected, Rejection, quarantine_frame
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


_REF, _KEY, _VERSION, _DIGEST, _SEQ, _RAW = "__ref", "__key", "__version", "__digest", "__seq", "__raw"
_HIDDEN = [_REF, _KEY, _VERSION, _DIGEST, _SEQ, _RAW]


def rows_frame(spec: TableSpec, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows → a frame of the table's data columns (strict types; missing keys are null)."""
    schema = {c: spec.schema[c] for c in spec.data_columns}
    if not rows:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame(rows, schema=schema, strict=True)


@dataclass
class IngestResult:
    """One partition's outcome, ready to write: accepted rows, child rows, quarantine, counts."""

    spec: TableSpec
    accepted: pl.DataFrame
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
        self._rowless_refs: list[str] = []  # accepted records without a main-table row
        self._frames: list[pl.DataFrame] = []
        self._child_frames: dict[str, list[pl.DataFrame]] = {name: [] for name in self.children_specs}
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
        hidden: dict[str, list[Any]] = {name: [] for name in _HIDDEN}
        children: dict[str, list[dict[str, Any]]] = {name: [] for name in self.children_specs}
        for record in batch.records:
            self.rows_in += 1
            self._seq += 1
            value, accepted, rejection = guarded_parse(self.parse, record, self.source)
            if rejection is not None:
                self._rejected.append(rejection)
                continue
            for name, child_rows in accepted.children.items():
                children[name] += [{**child, _REF: record.ref} for child in child_rows]
            row = accepted.row
            if row is None:
                self._rowless_refs.append(record.ref)
                continue
            try:
                key, version, digest = self._identity(row, value)
            except Exception as exc:  # noqa: BLE001 - an unhashable id is the record's fault
                self._rejected.append(rejection_of(exc, self.source, record.ref, record.text))
                continue
            if self._fill_ref:
                row.setdefault("record_ref", record.ref)
            if self._fill_raw:
                row.setdefault("raw_payload", record.text)
            rows.append(row)
            for name, item in zip(_HIDDEN, (record.ref, key, version, digest, self._seq, record.text)):
                hidden[name].append(item)
        self._keep(rows, hidden, children)

    def _identity(self, row: dict[str, Any], value: Any) -> tuple[str | None, str | None, bytes | None]:
        if self.versions is None:
            return None, None, None
        key = self.versions.key(row)
        version = self.versions.version(row) if self.versions.version else None
        return (None if key is None else str(key), None if version is None else str(version),
                content_digest(value) if key is not None else None)

    def _keep(self, rows: list[dict[str, Any]], hidden: dict[str, list[Any]],
              children: dict[str, list[dict[str, Any]]]) -> None:
        if rows:
            frame, bad = self._frame_checked(rows, hidden)
            self._frames.append(frame)
            bad_refs = set(bad)
        else:
            bad_refs = set()
        for name, child_rows in children.items():
            if bad_refs:
                child_rows = [c for c in child_rows if c[_REF] not in bad_refs]
            if child_rows:
                child_spec = self.children_specs[name]
                refs = [c.pop(_REF) for c in child_rows]
                self._child_frames[name].append(
                    rows_frame(child_spec, child_rows).with_columns(pl.Series(_REF, refs, pl.String())))

    def _frame_checked(self, rows: list[dict[str, Any]], hidden: dict[str, list[Any]]) -> tuple[pl.DataFrame, list[str]]:
        """The batch's frame; a row that does not fit the column types is quarantined (SCHEMA_MISMATCH)."""
        try:
            frame = rows_frame(self.spec, rows)
            bad: list[str] = []
        except Exception:  # noqa: BLE001 - find the offending rows one by one (rare path)
            keep, bad = [], []
            for index, row in enumerate(rows):
                try:
                    rows_frame(self.spec, [row])
                    keep.append(index)
                except Exception as exc:  # noqa: BLE001
                    ref = hidden[_REF][index]
                    bad.append(ref)
                    self._rejected.append(Rejection(self.source, ref, "SCHEMA_MISMATCH",
                                                    f"row does not fit the table's columns: {type(exc).__name__}: {str(exc)[:200]}",
                                                    hidden[_RAW][index]))
            rows = [rows[i] for i in keep]
            hidden = {name: [values[i] for i in keep] for name, values in hidden.items()}
            frame = rows_frame(self.spec, rows)
        return frame.with_columns(
            pl.Series(_REF, hidden[_REF], pl.String()), pl.Series(_KEY, hidden[_KEY], pl.String()),
            pl.Series(_VERSION, hidden[_VERSION], pl.String()), pl.Series(_DIGEST, hidden[_DIGEST], pl.Binary()),
            pl.Series(_SEQ, hidden[_SEQ], pl.Int64()), pl.Series(_RAW, hidden[_RAW], pl.String()),
        ), bad

    def finish(self) -> IngestResult:
        """Resolve duplicates across the day and return the partition's outcome."""
        schema = {c: self.spec.schema[c] for c in self.spec.data_columns} | {
            _REF: pl.String(), _KEY: pl.String(), _VERSION: pl.String(), _DIGEST: pl.Binary(), _SEQ: pl.Int64(), _RAW: pl.String()}
        accepted = pl.concat(self._frames, how="vertical") if self._frames else pl.DataFrame(schema=schema)
        self._frames = []
        version_rejects = pl.DataFrame(schema=QUARANTINE_SCHEMA)
        if self.versions is not None and accepted.height:
            accepted, version_rejects = resolve_versions(accepted, self.source, self.versions.describe)
        removed = set(version_rejects.get_column("record_ref").to_list())
        children = {}
        for name, frames in self._child_frames.items():
            child_spec = self.children_specs[name]
            frame = pl.concat(frames, how="vertical") if frames else rows_frame(child_spec, []).with_columns(
                pl.lit(None, pl.String()).alias(_REF))
            if removed:
                frame = frame.filter(~pl.col(_REF).is_in(list(removed)))
            children[name] = (child_spec, frame.drop(_REF))
        quarantine = pl.concat([quarantine_frame(self._rejected), version_rejects.select(quarantine_frame([]).columns)],
                               how="vertical")
        accepted = accepted.drop(_HIDDEN)
        return IngestResult(self.spec, accepted, children, quarantine, self.rows_in,
                            accepted.height + len(self._rowless_refs))


def resolve_versions(frame: pl.DataFrame, source: str, describe: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split accepted rows into (kept, quarantined duplicates and conflicts) by id, version and content."""
    group = [_KEY, _VERSION]
    marked = frame.with_columns(
        pl.col(_DIGEST).n_unique().over(group).alias("__contents"),
        pl.col(_SEQ).rank("ordinal").over(group).alias("__rank"),
        pl.col(_REF).sort_by(_SEQ).first().over(group).alias("__first"),
        pl.col(_REF).sort_by(_SEQ).str.join(", ").over(group).alias("__all"),
    )
    grouped = pl.col(_KEY).is_not_null()
    conflict = grouped & (pl.col("__contents") > 1)
    duplicate = grouped & ~conflict & (pl.col("__rank") > 1)
    rejected = marked.filter(conflict | duplicate).sort(_SEQ).select(
        pl.lit(source).alias("source"),
        pl.col(_REF).alias("record_ref"),
        pl.when(conflict).then(pl.lit("CONFLICTING_VERSION")).otherwise(pl.lit("DUPLICATE_RECORD")).alias("reason_code"),
        pl.when(conflict)
        .then(pl.format("same {} ({}) delivered with different content in {}: every copy is quarantined",
                        pl.lit(describe), pl.concat_str([pl.col(_KEY), pl.col(_VERSION).fill_null("-")], separator=" @ "),
                        pl.col("__all")))
        .otherwise(pl.format("exact re-delivery of {} (same {} and content)", pl.col("__first"), pl.lit(describe)))
        .alias("reason"),
        pl.col(_RAW).alias("raw_payload"),
    )
    kept = marked.filter(~(conflict | duplicate)).drop("__contents", "__rank", "__first", "__all")
    return kept, rejected


def write_ingest(context: dg.AssetExecutionContext, warehouse: WarehouseResource, result: IngestResult, *,
                 files: int, extra_metadata: dict[str, Any] | None = None,
                 extra_checks: list[dg.AssetCheckResult] | None = None) -> dg.MaterializeResult:
    """Write the partition, its child tables and the quarantine slice; return metadata and the three checks.

    Child tables are written under the same landing date; their schema results are for `extra_checks`
    of the caller when it declares such checks.
    """
    landing_date = dt.date.fromisoformat(context.partition_key)
    warehouse.write_partition(result.spec, result.accepted, landing_date=landing_date)
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
        "dagster/row_count": result.accepted.height, **child_counts, **(extra_metadata or {}),
        "quarantine_reasons": dg.MetadataValue.md("\n".join(f"- {c}: {n}" for c, n in reasons) or "none"),
    }
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            conservation_result(result.rows_in, result.accepted_records, result.quarantine.height),
            schema_result(result.spec, result.accepted),
            schema_result(QUARANTINE, result.quarantine, check_name=QUARANTINE_SCHEMA_CHECK),
            *(extra_checks or []),
        ],
    )
