"""The ingest sequence: guarded parse → frames per batch → versions → write partition + quarantine → checks.

`IngestRun` takes batches of raw records (files.RecordReader), parses each record with the source's
`parse(value, record)` inside a guard, turns each batch's rows into a frame at once (so no more than a
batch of Python dicts is alive), resolves duplicates across the day with the source's `VersionRule`, and
`write_ingest` writes the partition, the child tables and the quarantine slice and returns the
materialization with the conservation, schema and quarantine-schema checks. `IngestRun.read` parses the
batches of a large day on every core (`parse_batch` in pool workers, results kept in batch order), with the
same result as parsing them in the step's process.

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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import dagster as dg
import polars as pl

from assets.checks import QUARANTINE_SCHEMA_CHECK, conservation_result, schema_result
from assets.ingest.common.files import Batch, LandedFile, RawRecord, RecordReader, landed_bytes
from assets.ingest.common.jsonvalue import content_digest, decode_json
from assets.parallel import map_with_shared, usable_cores
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


@dataclass(frozen=True)
class RecordParser:
    """How one source's records become rows: all that parsing a batch needs, and nothing of the run's state.

    It is pickled to pool workers when a day's batches are parsed on every core (``IngestRun.read``), so its
    ``parse`` and ``VersionRule`` functions are module-level functions or ``functools.partial`` of them (a lambda
    or a closure cannot be pickled).
    """

    source: str
    spec: TableSpec
    parse: Parse
    versions: VersionRule | None
    children_specs: dict[str, TableSpec]
    # fill `record_ref` / `raw_payload` from the record when the table has them and the parser did not
    fill_ref: bool
    fill_raw: bool


@dataclass
class ParsedBatch:
    """One batch parsed: its rows as frames (each with the record reference in ``_REF``), its identities for the
    ``VersionRule``, its rejections (the batch's file-level ones first) and the records that gave only child rows."""

    rows_in: int
    records: int
    frame: pl.DataFrame | None
    child_frames: dict[str, pl.DataFrame]
    identities: pl.DataFrame | None
    rejected: list[Rejection]
    rowless_refs: list[str]


def parse_batch(parser: RecordParser, batch: Batch, last_seq: int) -> ParsedBatch:
    """Parse each record of ``batch`` inside the guard; records are numbered (delivery order, for the
    ``VersionRule``) from ``last_seq + 1``. Runs in the step's process or in a pool worker."""
    rejected = list(batch.rejected)
    rows: list[dict[str, Any]] = []
    row_refs: list[str] = []
    row_raw: list[str] = []
    identities: list[tuple] = []
    rowless_refs: list[str] = []
    children: dict[str, list[dict[str, Any]]] = {name: [] for name in parser.children_specs}
    seq = last_seq
    for record in batch.records:
        seq += 1
        value, accepted, rejection = guarded_parse(parser.parse, record, parser.source)
        if rejection is None and parser.versions is not None:
            try:
                identities.append(_identity(parser.versions, accepted, value, record, seq))
            except Exception as exc:  # noqa: BLE001 - an id that cannot be read is the record's fault
                rejection = rejection_of(exc, parser.source, record.ref, record.text)
        if rejection is not None:
            rejected.append(rejection)
            continue
        for name, child_rows in accepted.children.items():
            children[name] += [{**child, _REF: record.ref} for child in child_rows]
        row = accepted.row
        if row is None:
            rowless_refs.append(record.ref)
            continue
        if parser.fill_ref:
            row.setdefault("record_ref", record.ref)
        if parser.fill_raw:
            row.setdefault("raw_payload", record.text)
        rows.append(row)
        row_refs.append(record.ref)
        row_raw.append(record.text)
    frame, bad = _rows_kept(parser, rows, row_refs, row_raw, rejected)
    child_frames, bad_children = _children_kept(parser, children, bad, {r.ref: r for r in batch.records}, rejected)
    if bad_children and frame is not None:
        frame = frame.filter(~pl.col(_REF).is_in(list(bad_children)))
    bad |= bad_children
    if bad:
        rowless_refs = [ref for ref in rowless_refs if ref not in bad]
    identity_frame = None
    if identities:
        identity_frame = pl.DataFrame(identities, schema=_IDENTITY_SCHEMA, orient="row")
        if bad:
            identity_frame = identity_frame.filter(~pl.col(_REF).is_in(list(bad)))
    return ParsedBatch(batch.size, len(batch.records), frame, child_frames, identity_frame, rejected, rowless_refs)


def _identity(versions: VersionRule, accepted: Accepted, value: Any, record: RawRecord, seq: int) -> tuple:
    key, version = accepted.key, accepted.version
    if key is None and accepted.row is not None:
        key = versions.key(accepted.row)
        if version is None and versions.version is not None:
            version = versions.version(accepted.row)
    digest = content_digest(value) if key is not None else None
    return (record.ref, None if key is None else str(key), None if version is None else str(version), digest,
            seq, record.text)


def _rows_kept(parser: RecordParser, rows: list[dict[str, Any]], refs: list[str], raws: list[str],
               rejected: list[Rejection]) -> tuple[pl.DataFrame | None, set[str]]:
    """The batch's rows as a frame; a row that does not fit the column types is quarantined (SCHEMA_MISMATCH).
    Returns the frame and the references of such rows."""
    if not rows:
        return None, set()
    bad: set[str] = set()
    try:
        frame = rows_frame(parser.spec, rows)
    except Exception:  # noqa: BLE001 - find the offending rows one by one (rare path)
        keep = []
        for index, row in enumerate(rows):
            try:
                rows_frame(parser.spec, [row])
                keep.append(index)
            except Exception as exc:  # noqa: BLE001
                bad.add(refs[index])
                rejected.append(Rejection(parser.source, refs[index], "SCHEMA_MISMATCH",
                                          f"row does not fit the table's columns: {type(exc).__name__}: "
                                          f"{str(exc)[:200]}", raws[index]))
        frame = rows_frame(parser.spec, [rows[i] for i in keep])
        refs = [refs[i] for i in keep]
    return frame.with_columns(pl.Series(_REF, refs, pl.String())), bad


def _children_kept(parser: RecordParser, children: dict[str, list[dict[str, Any]]], bad: set[str],
                   records: dict[str, RawRecord], rejected: list[Rejection]) -> tuple[dict[str, pl.DataFrame], set[str]]:
    """The batch's child rows as frames; a record with a child row that does not fit is quarantined whole
    (SCHEMA_MISMATCH). Returns the frames and the references of such records."""
    built_rows: dict[str, tuple[list[dict[str, Any]], list[str], pl.DataFrame | None]] = {}
    bad_records: set[str] = set()
    for name, child_rows in children.items():
        child_rows = [c for c in child_rows if c[_REF] not in bad]
        refs = [c.pop(_REF) for c in child_rows]
        built = None
        try:
            built = rows_frame(parser.children_specs[name], child_rows)
        except Exception:  # noqa: BLE001 - rare path: find the records whose rows do not fit
            for index, row in enumerate(child_rows):
                try:
                    rows_frame(parser.children_specs[name], [row])
                except Exception as exc:  # noqa: BLE001
                    if refs[index] not in bad_records:
                        bad_records.add(refs[index])
                        rejected.append(Rejection(
                            parser.source, refs[index], "SCHEMA_MISMATCH",
                            f"a {name} row does not fit the table's columns: {type(exc).__name__}: {str(exc)[:200]}",
                            records[refs[index]].text))
        built_rows[name] = (child_rows, refs, built)
    frames: dict[str, pl.DataFrame] = {}
    for name, (child_rows, refs, built) in built_rows.items():
        keep = [i for i, ref in enumerate(refs) if ref not in bad_records]
        if keep:
            # Every row kept (the common case): the frame built to check them is the frame.
            frame = built if built is not None and len(keep) == len(child_rows) else \
                rows_frame(parser.children_specs[name], [child_rows[i] for i in keep])
            frames[name] = frame.with_columns(pl.Series(_REF, [refs[i] for i in keep], pl.String()))
    return frames, bad_records


POOLED_INGEST_BYTES = 16 * 1024 * 1024
"""A day whose files hold this many bytes (``files.landed_bytes``) or more is parsed on every core (``IngestRun.read``); a smaller one in
the step's process, where starting the pool's workers (about 1.5 CPU-s each, unless an earlier step started them)
would cost more than it saves."""

POOLED_BATCH_SIZE = 2_000
"""Records per batch when a day is parsed on every core: small enough that the workers' last batches end close
together (a 100,000-session day's platform sessions are 30,000 records, about 0.4 ms each), large enough that the
cost of a task (its records and rows crossing between processes) stays small."""


class IngestRun:
    """Accumulates one partition of one ingest asset, batch by batch."""

    def __init__(self, *, source: str, spec: TableSpec, parse: Parse, versions: VersionRule | None = None,
                 children: dict[str, TableSpec] | None = None, keep_raw_payload: bool = True):
        self.source = source
        self.spec = spec
        self.children_specs = children or {}
        self.parser = RecordParser(source, spec, parse, versions, self.children_specs,
                                   fill_ref="record_ref" in spec.data_columns,
                                   fill_raw=keep_raw_payload and "raw_payload" in spec.data_columns)
        self.rows_in = 0
        self._rowless_refs: list[str] = []  # accepted records without a main-table row (only child rows)
        self._frames: list[pl.DataFrame] = []
        self._child_frames: dict[str, list[pl.DataFrame]] = {name: [] for name in self.children_specs}
        self._identities: list[pl.DataFrame] = []
        self._rejected: list[Rejection] = []
        self._seq = 0

    @property
    def versions(self) -> VersionRule | None:
        return self.parser.versions

    def read(self, reader: RecordReader, files: list[LandedFile], workers: int | None = None) -> IngestRun:
        """Add every record of ``files``; returns self. A day of ``POOLED_INGEST_BYTES`` or more is parsed on every
        core (``workers``, when given, decides instead), in smaller batches; the result is the same either way."""
        if workers is None:
            workers = usable_cores() if landed_bytes(files) >= POOLED_INGEST_BYTES else 1
        if workers > 1:
            reader = replace(reader, batch_size=min(reader.batch_size, POOLED_BATCH_SIZE))
        return self.add_all(reader.batches(files), workers)

    def add_all(self, batches: Iterable[Batch], workers: int = 1) -> IngestRun:
        """Add every batch, parsed on ``workers`` pool workers (1: in this process); returns self."""
        def numbered() -> Iterator[tuple[Batch, int]]:
            seq = self._seq
            for batch in batches:
                yield batch, seq
                seq += len(batch.records)

        for parsed in map_with_shared(parse_batch, self.parser, numbered(), workers):
            self._keep(parsed)
        return self

    def add(self, batch: Batch) -> None:
        """Parse one batch and keep its rows as frames."""
        self._keep(parse_batch(self.parser, batch, self._seq))

    def reject(self, rejections: Iterable[Rejection]) -> None:
        """Records rejected before parsing (they count in `rows in`)."""
        for rejection in rejections:
            self.rows_in += 1
            self._rejected.append(rejection)

    def _keep(self, parsed: ParsedBatch) -> None:
        self.rows_in += parsed.rows_in
        self._seq += parsed.records
        self._rejected += parsed.rejected
        self._rowless_refs += parsed.rowless_refs
        if parsed.frame is not None:
            self._frames.append(parsed.frame)
        for name, frame in parsed.child_frames.items():
            self._child_frames[name].append(frame)
        if parsed.identities is not None:
            self._identities.append(parsed.identities)

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
