"""CDR files at parse speed: an NDJSON file of OCPI CDRs in, one polars row of totals per CDR out.

`price_cdrs_file(cdrs, tariffs=None, timezone=None)` reads the file columnar with a fixed schema (pyarrow's
JSON reader, volumes parsed exactly from their text into Decimal(38, 12); the sealed tariffs as JSON text by
polars; a file pyarrow refuses is read by `polars.read_ndjson`, line by line when a line is broken), explodes
the charging periods and their dimensions, encodes them into the kernel arrays with vectorised expressions,
decides tariffs and pre-kernel errors with column expressions and prices every CDR in one kernel call; no
Python object or loop step per CDR (only per distinct sealed tariff). `python -m tariff_engine price-cdrs`
is the same call on the command line.

Rules (the same as `cdr_json.price_cdrs`, written out for the columnar path):
- the tariff of a CDR: the one its periods' `tariff_id` names, from `tariffs` (a folder of any family, or
  `{id: Tariff}`) first, then from the CDR's own sealed `tariffs`; a CDR whose periods name no tariff takes
  the only tariff given, else its only sealed tariff. Several ids: MULTIPLE_TARIFFS; none found:
  UNKNOWN_TARIFF; a sealed tariff the OCPI adapter refuses: MALFORMED_TARIFF.
- the zone: `timezone`, else the location's `time_zone`, else the zone of its country when it has one
  (TIMEZONE_UNRESOLVED otherwise).
- volumes are quantized half-up (away from zero) to 1 mWh / 1 ms, measurements to 1e-6, instants truncated
  to the millisecond, exactly as `adapters.ocpi.parse_cdr` + the object encoders do.
- every line gives one output row (`line` = its 0-based line number among non-blank lines): a line that is
  not a JSON object, or a CDR missing its times or carrying an unknown dimension, gets MALFORMED_CDR with a
  reason; nothing is dropped.
Output columns: line, cdr_id, session_id, tariff_id, currency, error_code, error, the six OCPI totals as
`<name>_excl` / `<name>_incl` Decimal(18, 4), total_energy_wh, total_time_s, total_parking_s and
pricing_warnings (see `frames.price_frame`).
"""

from __future__ import annotations

import gzip
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from .adapters.ocpi import _CDR_IGNORED_DIMS, _CDR_MEASUREMENTS, _CDR_VOLUME_DIMS, country_time_zone
from .compile import (
    ERROR_INDEX, NONE, P_ENERGY, P_MAX_CUR, P_MAX_POW, P_MIN_CUR, P_MIN_POW, P_PARKING, P_RATE, P_RESERVATION, P_START,
    P_TIME, S_END, S_ERROR, S_EXPIRED, S_START, S_TARIFF, S_ZONE, SessionBatch, build_zone_table, policy_codes,
)
from .documents import TariffDocumentError, documents_in, json_files, load_json, tariff_from_document
from .kernels import price_batch
from .cdr_columns import fill_periods, named_tariffs, parse_instants, sealed_tariff_spans
from .model import Tariff
from .policy import DEFAULT_POLICY, PricingPolicy
from .batch import _EMPTY_TARIFF, _ERROR_MESSAGES, _compile_each
from .frames import frame_from_output

_DIMENSION = pl.Struct({"type": pl.String, "volume": pl.String})
_PERIOD = pl.Struct({"start_date_time": pl.String, "tariff_id": pl.String, "dimensions": pl.List(_DIMENSION)})
_LOCATION = pl.Struct({"country": pl.String, "time_zone": pl.String})
SNAKE_SCHEMA = {
    "id": pl.String, "country_code": pl.String, "party_id": pl.String, "start_date_time": pl.String,
    "end_date_time": pl.String, "cdr_location": _LOCATION, "location": _LOCATION, "tariffs": pl.List(pl.String),
    "charging_periods": pl.List(_PERIOD),
}
# camelCase senders (the pipeline's ingest accepts either key casing): same fields, same order inside structs
_CAMEL = {"country_code": "countryCode", "party_id": "partyId", "start_date_time": "startDateTime",
          "end_date_time": "endDateTime", "cdr_location": "cdrLocation", "charging_periods": "chargingPeriods"}
CDR_SCHEMA = {**SNAKE_SCHEMA, **{
    "countryCode": pl.String, "partyId": pl.String, "startDateTime": pl.String, "endDateTime": pl.String,
    "cdrLocation": pl.Struct({"country": pl.String, "timeZone": pl.String}),
    "chargingPeriods": pl.List(pl.Struct({"startDateTime": pl.String, "tariffId": pl.String,
                                          "dimensions": pl.List(_DIMENSION)})),
}}


def _snake_case(frame: pl.DataFrame) -> pl.DataFrame:
    """One column per field whichever key casing each CDR used (snake_case wins when both are present)."""
    camel_periods = pl.col("chargingPeriods").list.eval(
        pl.element().struct.rename_fields(list(_PERIOD.to_schema())))
    return frame.with_columns(
        *[pl.coalesce(snake, camel) for snake, camel in _CAMEL.items()
          if snake not in ("cdr_location", "charging_periods")],
        pl.coalesce("cdr_location", pl.col("cdrLocation").struct.rename_fields(list(_LOCATION.to_schema()))),
        pl.coalesce("charging_periods", camel_periods),
    ).select(["line", *SNAKE_SCHEMA])
# Exact decimal text -> integer units: JSON numbers are read as text and cast to Decimal(38, 12) (truncating
# beyond 12 decimals cannot move a half-up rounding at 6 decimals or at the millisecond).
_SCALE = 10**12
# volume dimension -> (period column, units per 1e-12 of the OCPI unit: numerator, denominator)
_VOLUMES = {"ENERGY": (P_ENERGY, 1, 1_000_000), "TIME": (P_TIME, 36, 10_000_000),
            "PARKING_TIME": (P_PARKING, 36, 10_000_000), "RESERVATION_TIME": (P_RESERVATION, 36, 10_000_000)}
_MEASUREMENTS = {"MIN_CURRENT": P_MIN_CUR, "MAX_CURRENT": P_MAX_CUR, "MIN_POWER": P_MIN_POW, "MAX_POWER": P_MAX_POW}
assert set(_VOLUMES) == set(_CDR_VOLUME_DIMS) and set(_MEASUREMENTS) == set(_CDR_MEASUREMENTS)  # one rule: parse_cdr's
_KNOWN_DIMENSIONS = sorted(set(_VOLUMES) | set(_MEASUREMENTS) | set(_CDR_IGNORED_DIMS))


class CdrFileError(ValueError):
    """The CDR file itself cannot be read (missing, unreadable compression, unknown output format)."""


def _half_away(numerator: pl.Expr, denominator: int | pl.Expr) -> pl.Expr:
    """numerator / denominator rounded half away from zero (Decimal ROUND_HALF_UP), integer expressions."""
    return (pl.when(numerator >= 0).then((numerator * 2 + denominator) // (2 * denominator))
            .otherwise(0 - (((0 - numerator) * 2 + denominator) // (2 * denominator))))  # i128 has no neg


def _instant_ms(text: pl.Expr) -> pl.Expr:
    """RFC 3339 text (Z, an offset, or none = UTC; any fraction) as epoch milliseconds, truncated."""
    with_offset = (pl.when(text.str.contains(r"(Z|z|[+-]\d\d:\d\d)$")).then(text.str.replace(r"[Zz]$", "+00:00"))
                   .otherwise(text + "+00:00"))
    return with_offset.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", time_unit="ms", time_zone="UTC",
                                       strict=False).dt.epoch("ms")


def _instants(texts: pl.Series) -> pl.Series:
    """`_instant_ms` of a string column: the plain RFC 3339 spellings parsed in one numba pass
    (`cdr_columns.parse_instants`), only the others through the polars expression."""
    arrow = texts.to_arrow()
    arrow = arrow.combine_chunks() if isinstance(arrow, pa.ChunkedArray) else arrow
    if arrow.type != pa.large_string():
        arrow = arrow.cast(pa.large_string())
    offsets = np.frombuffer(arrow.buffers()[1], dtype=np.int64)[arrow.offset: arrow.offset + len(arrow) + 1]
    data = np.frombuffer(arrow.buffers()[2], dtype=np.uint8) if arrow.buffers()[2] is not None else np.zeros(0, np.uint8)
    valid = arrow.is_valid().to_numpy(zero_copy_only=False)
    result, parsed = parse_instants(offsets, data, valid)
    instants = pl.Series(texts.name, pa.array(result, mask=~parsed))
    rest = np.flatnonzero(valid & ~parsed)
    if rest.size:
        instants = instants.scatter(rest, pl.select(_instant_ms(pl.lit(texts.gather(rest)))).to_series())
    return instants


def _read_bytes(cdrs: str | Path | bytes) -> pa.Buffer:
    """The NDJSON text as an Arrow buffer: a plain file is memory-mapped (no copy of the file into the
    process: every reader below works on the mapping), gzip is decompressed, bytes are wrapped."""
    if isinstance(cdrs, (bytes, bytearray, pa.Buffer)):
        data = cdrs if isinstance(cdrs, pa.Buffer) else pa.py_buffer(bytes(cdrs))
    else:
        path = Path(cdrs)
        try:
            mapped = pa.memory_map(str(path))
        except FileNotFoundError:
            raise CdrFileError(f"CDR file not found: {path}") from None
        except (IsADirectoryError, pa.ArrowIOError) as error:
            if path.is_dir():
                raise CdrFileError(f"CDR file {path} is a folder; give an NDJSON file") from None
            raise CdrFileError(f"CDR file {path} cannot be read: {error}") from None
        data = mapped.read_buffer()
    if data.size >= 2 and data.slice(0, 2).to_pybytes() == b"\x1f\x8b":
        try:
            data = pa.py_buffer(gzip.decompress(data))
        except (OSError, EOFError) as error:
            raise CdrFileError(f"CDR file is not readable gzip: {error}") from None
    return data


def _arrow_type(dtype: pl.DataType) -> pa.DataType:
    """The pyarrow type of a `CDR_SCHEMA` field; dimension volumes as exact Decimal128(38, 12)."""
    if isinstance(dtype, pl.Struct):
        return pa.struct([(f.name, pa.decimal128(38, 12) if f.name == "volume" else _arrow_type(f.dtype))
                          for f in dtype.fields])
    if isinstance(dtype, pl.List):
        return pa.list_(_arrow_type(dtype.inner))
    return pa.string()


# Every CDR field but the sealed tariffs, which pyarrow cannot keep as JSON text (they are read by polars).
_ARROW_SCHEMA = pa.schema([(name, _arrow_type(dtype)) for name, dtype in CDR_SCHEMA.items() if name != "tariffs"])


_PARSE_OPTIONS = pa_json.ParseOptions(explicit_schema=_ARROW_SCHEMA, unexpected_field_behavior="ignore")
# 8 MB blocks: measured on the 464 MB benchmark file, 1 MB blocks cost ~10 % more CPU (per-block setup and
# chunk concatenation); larger blocks gained nothing. Threads stay on: both cores parse when they are free.
_READ_OPTIONS = pa_json.ReadOptions(use_threads=True, block_size=8 << 20)


def _read_fast(data: bytes | pa.Buffer) -> pl.DataFrame | None:
    """The whole file through pyarrow's JSON reader (C++, several times polars' speed on the nested charging
    periods; JSON numbers parsed exactly from their text into Decimal(38, 12)), the sealed tariffs as their
    own JSON text (`_sealed_texts`). None when pyarrow refuses anything (a broken line, a field of
    another type, a volume with more than 12 decimals...): the caller then reads the file the polars way,
    which words each problem per line. Blank lines are skipped by both, so row numbers are the same."""
    try:
        data = data if isinstance(data, pa.Buffer) else pa.py_buffer(data)
        table = pa_json.read_json(pa.BufferReader(data), read_options=_READ_OPTIONS, parse_options=_PARSE_OPTIONS)
        frame = pl.from_arrow(table)
        sealed = _sealed_texts(data, frame.height)
    except Exception:  # noqa: BLE001 - pyarrow and polars raise several error types; the slow lane words them
        return None
    if not isinstance(frame, pl.DataFrame) or sealed.height != frame.height:
        return None
    return frame.with_columns(sealed["tariffs"]).select(list(CDR_SCHEMA)).with_row_index("line")


def _sealed_texts(data: bytes | pa.Buffer, rows: int) -> pl.DataFrame:
    """The `tariffs` column: each line's sealed tariffs as their JSON text (Binary), cut out of the file by
    one byte scan (`cdr_columns.sealed_tariff_spans`); through a polars `read_ndjson` of that field alone
    when the scan does not vouch for a line or counts other rows than pyarrow."""
    spans = sealed_tariff_spans(data)
    if spans is None or spans[0] != rows:
        return pl.read_ndjson(io.BytesIO(memoryview(data)), schema={"tariffs": CDR_SCHEMA["tariffs"]})
    _, element_row, offsets, element_bytes = spans
    list_offsets = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(element_row, minlength=rows), out=list_offsets[1:])
    texts = pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(offsets) - 1,
                                             [None, pa.py_buffer(offsets), pa.py_buffer(element_bytes)])
    lists = pa.LargeListArray.from_arrays(pa.array(list_offsets), texts)
    return pl.DataFrame({"tariffs": pl.from_arrow(lists)})


def _read_lines(data: bytes | pa.Buffer) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
    """(CDR frame with a `line` column, [(line, reason)] of lines that are not readable CDR objects).

    The fast lane reads the whole file columnar (`_read_fast`); otherwise it is read in one `read_ndjson`
    call, and only when that fails (a broken line somewhere) are the lines checked one by one, so a bad line
    costs its own row and never the file."""
    fast = _read_fast(data)
    if fast is not None:
        return fast, []
    data = data.to_pybytes() if isinstance(data, pa.Buffer) else data
    lines = [line for line in data.split(b"\n") if line.strip()]  # NDJSON: split on "\n" only
    try:
        frame = pl.read_ndjson(io.BytesIO(b"\n".join(lines)), schema=CDR_SCHEMA) if lines else pl.DataFrame(schema=CDR_SCHEMA)
        return frame.with_row_index("line"), []
    except Exception:  # noqa: BLE001 - polars raises several error types for a bad line; each line is checked below
        pass
    good, numbers, bad = [], [], []
    for number, line in enumerate(lines):
        try:
            frame = pl.read_ndjson(io.BytesIO(line), schema=CDR_SCHEMA)
            if frame.height != 1 or not line.lstrip().startswith(b"{"):
                raise ValueError("not a JSON object")
        except Exception as error:  # noqa: BLE001 - the reason is reported with the line
            bad.append((number, f"line {number}: not a readable CDR object ({str(error).splitlines()[0][:200]})"))
            continue
        good.append(frame)
        numbers.append(number)
    frame = pl.concat(good) if good else pl.DataFrame(schema=CDR_SCHEMA)
    return frame.with_columns(pl.Series("line", numbers, dtype=pl.UInt32)).select(["line", *CDR_SCHEMA]), bad


def _given_tariffs(tariffs: str | Path | Mapping[str, Tariff] | None, timezone: str | None,
                   currency: str | None) -> tuple[dict[str, Tariff], dict[str, str]]:
    """({id: tariff}, {id: refusal}) of the tariffs given beside the CDRs (a folder of any family, or a map)."""
    if tariffs is None:
        return {}, {}
    if isinstance(tariffs, Mapping):
        return dict(tariffs), {}
    good: dict[str, Tariff] = {}
    refused: dict[str, str] = {}
    root = Path(tariffs)
    for path in json_files(root):
        for item in documents_in(load_json(path), str(path.relative_to(root))):
            identifier = str(item.document.get("id")) if isinstance(item.document, Mapping) else item.origin
            try:
                tariff = tariff_from_document(item.document, timezone_name=timezone, currency=currency)
            except TariffDocumentError as error:
                refused[identifier] = f"{item.origin}: {error}"
                continue
            good.setdefault(tariff.id, tariff)
    return good, refused


def _sealed_tariffs(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Tariff | None], list[str | None]]:
    """(line, own_id, own_slot) of every sealed tariff, the distinct parsed tariffs by slot (None when
    refused) and the refusal per slot. Each distinct tariff text is parsed once for the whole file."""
    own = frame.select("line", pl.col("tariffs").alias("text")).explode("text").drop_nulls("text")
    texts = own["text"].unique(maintain_order=True).to_list()
    parsed: list[Tariff | None] = []
    refusals: list[str | None] = []
    ids: list[str | None] = []
    for text in texts:
        try:
            document = json.loads(text, parse_float=Decimal)
        except ValueError as error:  # the line parsed as a whole, so hardly reachable: refuse, never crash
            document, unreadable = None, f"the sealed tariff is not JSON: {error}"
        ids.append(str(document.get("id")) if isinstance(document, dict) and document.get("id") is not None else None)
        if document is None:
            parsed.append(None)
            refusals.append(unreadable)
            continue
        try:
            parsed.append(tariff_from_document(document))
            refusals.append(None)
        except TariffDocumentError as error:
            parsed.append(None)
            refusals.append(str(error))
    slots = pl.DataFrame({"text": texts, "own_id": ids, "own_slot": list(range(len(texts)))},
                         schema={"text": own["text"].dtype, "own_id": pl.String, "own_slot": pl.Int64})
    return own.join(slots, on="text", how="left").drop("text"), parsed, refusals


# dimension kinds in `fill_periods` order: the volumes, then the measurements, then the ones CDRs may carry but
# pricing ignores (a type outside all three is reported)
_KINDS = [*_VOLUMES, *_MEASUREMENTS]
_KIND_TYPES = pa.array([*_KINDS, *sorted(_CDR_IGNORED_DIMS)])
_KIND_COLUMN = np.array([_VOLUMES[k][0] for k in _VOLUMES] + list(_MEASUREMENTS.values()), dtype=np.int64)
_KIND_NUMERATOR = np.array([_VOLUMES[k][1] for k in _VOLUMES] + [1] * len(_MEASUREMENTS), dtype=np.int64)
_KIND_DENOMINATOR = np.array([_VOLUMES[k][2] for k in _VOLUMES] + [1_000_000] * len(_MEASUREMENTS), dtype=np.int64)
_KIND_IS_VOLUME = np.array([True] * len(_VOLUMES) + [False] * len(_MEASUREMENTS))


def _flatten(lists: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(parent row of every non-null element, the non-null elements) of an Arrow list array."""
    parents = pc.list_parent_indices(lists)
    values = pc.list_flatten(lists)
    present = values.is_valid()
    if present.false_count:
        parents, values = parents.filter(present), values.filter(present)
    return parents.to_numpy(zero_copy_only=False).astype(np.int64), values


def _decimal_units(volumes: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) 64-bit words of each Decimal128 value (its integer units); undefined where null."""
    words = np.frombuffer(volumes.buffers()[1], dtype=np.int64)[2 * volumes.offset: 2 * (volumes.offset + len(volumes))]
    return words[0::2], words[1::2]


def _periods(frame: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray, pl.DataFrame]:
    """(periods: row (position in `frame`), tariff_id; their kernel rows `period_int` (start, volumes,
    measurements; no electricity rate); bad lines: line, reason). The Arrow lane (`_periods_arrow`) when the
    volumes are exact decimals, else the polars lane."""
    if frame.schema["charging_periods"] == pl.List(pl.Struct({
            "start_date_time": pl.String, "tariff_id": pl.String,
            "dimensions": pl.List(pl.Struct({"type": pl.String, "volume": pl.Decimal(38, 12)}))})):
        arrow = _periods_arrow(frame)
        if arrow is not None:
            return arrow
    return _periods_polars(frame)


def _periods_arrow(frame: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray, pl.DataFrame] | None:
    """`_periods` on the Arrow buffers: lists flattened, dimension types dictionary-matched, values summed
    and scaled in one numba pass (`cdr_columns.fill_periods`). None when a value is beyond the int64 lane."""
    lists = frame["charging_periods"].to_arrow()
    period_row, periods = _flatten(lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists)
    dim_period, dims = _flatten(pc.struct_field(periods, "dimensions"))
    types, volumes = pc.struct_field(dims, "type"), pc.struct_field(dims, "volume")
    kind = pc.index_in(types, value_set=_KIND_TYPES).to_numpy(zero_copy_only=False)  # float, NaN when unknown
    known = ~np.isnan(kind)
    has_volume = volumes.is_valid().to_numpy(zero_copy_only=False)
    kind_index = np.where(known & has_volume, np.nan_to_num(kind, nan=-1), -1).astype(np.int64)
    kind_index[kind_index >= len(_KINDS)] = -1  # carried, not priced
    low, high = _decimal_units(volumes)
    period_int = np.zeros((len(periods), 10), dtype=np.int64)
    for column in (P_MIN_CUR, P_MAX_CUR, P_MIN_POW, P_MAX_POW, P_RATE):
        period_int[:, column] = NONE  # not measured (no electricity rate in a CDR)
    if not fill_periods(dim_period, kind_index, low, high, _KIND_COLUMN, _KIND_NUMERATOR, _KIND_DENOMINATOR,
                        _KIND_IS_VOLUME, period_int):
        return None
    line = frame["line"].to_numpy()
    start_text = pl.Series("start_date_time", pc.struct_field(periods, "start_date_time"))
    starts = _instants(start_text)
    period_int[:, P_START] = starts.fill_null(0).to_numpy()
    table = pl.DataFrame({"row": period_row, "tariff_id": pl.Series(pc.struct_field(periods, "tariff_id"))},
                         schema={"row": pl.Int64, "tariff_id": pl.String})
    bad_dims = np.flatnonzero(~(known & has_volume))
    bad_starts = np.flatnonzero(starts.is_null().to_numpy())
    bad = pl.concat([
        pl.DataFrame({"line": line[period_row[dim_period[bad_dims]]],
                      "type": pl.Series(types.take(pa.array(bad_dims))),
                      "volume": pl.Series(volumes.take(pa.array(bad_dims)))}).select(
            "line", _UNKNOWN_DIMENSION.alias("reason")),
        pl.DataFrame({"line": line[period_row[bad_starts]], "start_date_time": start_text.gather(bad_starts)}).select(
            "line", _BAD_START.alias("reason")),
    ])
    return table, period_int, bad


# (a missing type or volume is spelled out: a null inside pl.format would null the whole reason)
_UNKNOWN_DIMENSION = pl.format("charging period dimension {} with volume {}: unknown type or not a number",
                               pl.col("type").fill_null("(none)"), pl.col("volume").cast(pl.String).fill_null("(none)"))
_BAD_START = pl.format("charging period start_date_time {} is not a date-time",
                       pl.col("start_date_time").fill_null("(none)"))


def _periods_polars(frame: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray, pl.DataFrame]:
    """`_periods` with polars expressions (volumes as text or decimals)."""
    periods = (frame.with_row_index("row").select("row", "line", "charging_periods").explode("charging_periods").drop_nulls("charging_periods")
               .unnest("charging_periods").with_row_index("period"))
    dims = (periods.select("period", "dimensions").explode("dimensions").drop_nulls("dimensions")
            .unnest("dimensions")
            .with_columns(pl.col("volume").cast(pl.Decimal(38, 12), strict=False).to_physical().alias("units")))
    unknown = dims.filter(pl.col("type").is_null() | ~pl.col("type").is_in(_KNOWN_DIMENSIONS) | pl.col("units").is_null())
    # One value per (period, dimension): volumes summed, measurements the last one given (as parse_cdr), each
    # scaled to the kernel's integer unit; then scattered into the rows (each pair once).
    kinds = {**{kind: (column, numerator, denominator) for kind, (column, numerator, denominator) in _VOLUMES.items()},
             **{kind: (column, 1, 1_000_000) for kind, column in _MEASUREMENTS.items()}}
    kind = pl.col("type")
    values = (dims.filter(kind.is_in(list(kinds)) & pl.col("units").is_not_null())
              .group_by("period", "type").agg(pl.col("units").sum().alias("total"), pl.col("units").last().alias("last"))
              .select("period",
                      kind.replace_strict({k: v[0] for k, v in kinds.items()}, return_dtype=pl.Int64).alias("column"),
                      _half_away(pl.when(kind.is_in(list(_VOLUMES))).then(pl.col("total")).otherwise(pl.col("last"))
                                 * kind.replace_strict({k: v[1] for k, v in kinds.items()}, return_dtype=pl.Int64),
                                 kind.replace_strict({k: v[2] for k, v in kinds.items()}, return_dtype=pl.Int64))
                      .cast(pl.Int64).alias("value")))
    period_int = np.zeros((periods.height, 10), dtype=np.int64)
    for column in (P_MIN_CUR, P_MAX_CUR, P_MIN_POW, P_MAX_POW, P_RATE):
        period_int[:, column] = NONE  # not measured (no electricity rate in a CDR)
    period_int[values["period"].to_numpy(), values["column"].to_numpy()] = values["value"].to_numpy()
    starts = periods.select(_instant_ms(pl.col("start_date_time")).alias("start"))["start"]
    period_int[:, P_START] = starts.fill_null(0).to_numpy()
    bad = pl.concat([
        unknown.join(periods.select("period", "line"), on="period", maintain_order="left").select(
            "line", _UNKNOWN_DIMENSION.alias("reason")),
        periods.filter(starts.is_null()).select("line", _BAD_START.alias("reason")),
    ])
    return periods.select(pl.col("row").cast(pl.Int64), "tariff_id"), period_int, bad


def _zones(frame: pl.DataFrame, timezone: str | None) -> pl.Series:
    """The IANA zone of every CDR (null when unresolved)."""
    if timezone is not None:
        return pl.Series("zone", [timezone] * frame.height, dtype=pl.String)
    location = pl.coalesce(pl.col("cdr_location"), pl.col("location"))
    countries = pl.concat([frame["cdr_location"].struct.field("country"), frame["location"].struct.field("country")])
    zone_of = {country: country_time_zone(country) for country in countries.drop_nulls().unique().to_list()}
    by_country = location.struct.field("country").replace_strict(zone_of, default=None, return_dtype=pl.String)
    return frame.select(pl.coalesce(location.struct.field("time_zone"), by_country).alias("zone")).to_series()


def _named_tariffs(rows: int, periods: pl.DataFrame) -> pl.DataFrame:
    """Per CDR (in frame order): n_ids, how many distinct tariff ids its periods name (0, 1, or 2 for two or
    more), and `named`, the one it names (null unless exactly one)."""
    ids = periods["tariff_id"].to_arrow()
    encoded = pc.dictionary_encode(ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    count, first = named_tariffs(periods["row"].to_numpy().astype(np.int64), codes, rows)
    names = pl.Series(encoded.dictionary, dtype=pl.String).append(pl.Series([None], dtype=pl.String))
    return pl.DataFrame({"n_ids": count, "named": names.gather(np.where(count == 1, first, len(names) - 1))})


def _choose_tariffs(frame: pl.DataFrame, periods: pl.DataFrame, own: pl.DataFrame, given: dict[str, Tariff],
                    refused_given: dict[str, str], sealed: list[Tariff | None], sealed_refusals: list[str | None]
                    ) -> tuple[np.ndarray, list[Tariff], pl.DataFrame]:
    """(tariff slot per CDR or -1, tariffs by slot, the pre-kernel `code` and `message` per CDR, null when
    its tariff was found), all per CDR in `frame` order, decided with column expressions."""
    given_ids = list(given)
    tariffs = [*given.values(), *sealed]  # slots: the given tariffs, then the distinct sealed ones (None: refused)
    offset = len(given_ids)
    named = _named_tariffs(frame.height, periods)
    own_count = own.group_by("line").agg(pl.len().alias("own_count"), pl.col("own_slot").first().alias("only_own"))
    table = (pl.concat([frame.select("line"), named], how="horizontal")
             .join(own_count, on="line", how="left", maintain_order="left")
             .with_columns(pl.col("own_count").fill_null(0)))
    table = table.join(own.rename({"own_id": "named", "own_slot": "named_own"}).unique(["line", "named"], keep="first"),
                       on=["line", "named"], how="left", maintain_order="left")
    given_slot = pl.col("named").replace_strict({k: i for i, k in enumerate(given_ids)}, default=None, return_dtype=pl.Int64)
    single_given = len(given_ids) == 1 and not refused_given
    slot = (pl.when(pl.col("n_ids") > 1).then(None)
            .when(pl.col("n_ids") == 1).then(pl.coalesce(given_slot, pl.col("named_own") + offset))
            .when(pl.lit(single_given)).then(pl.lit(0, dtype=pl.Int64))
            .when(pl.col("own_count") == 1).then(pl.col("only_own") + offset)
            .otherwise(None))
    refused_slots = {offset + i: message for i, message in enumerate(sealed_refusals) if sealed[i] is None}
    refusal = pl.col("slot").replace_strict(refused_slots, default=None, return_dtype=pl.String)
    refused_named = pl.col("named").replace_strict(refused_given, default=None, return_dtype=pl.String)
    decided = table.with_columns(slot.alias("slot")).with_columns(
        pl.when(refusal.is_not_null()).then(pl.lit("MALFORMED_TARIFF"))
        .when(pl.col("slot").is_not_null()).then(None)
        .when(pl.col("n_ids") > 1).then(pl.lit("MULTIPLE_TARIFFS"))
        .when((pl.col("n_ids") == 1) & refused_named.is_not_null()).then(pl.lit("MALFORMED_TARIFF"))
        .otherwise(pl.lit("UNKNOWN_TARIFF")).alias("code"),
        pl.when(refusal.is_not_null()).then(refusal)
        .when(pl.col("slot").is_not_null()).then(None)
        .when(pl.col("n_ids") > 1).then(pl.lit("the charging periods name several tariffs"))
        .when((pl.col("n_ids") == 1) & refused_named.is_not_null()).then(refused_named)
        .when(pl.col("n_ids") == 1).then(pl.format("tariff '{}' is neither given nor sealed in the CDR", pl.col("named")))
        .otherwise(pl.format("the CDR names no tariff_id and carries {} sealed tariffs; {} given",
                             pl.col("own_count"), pl.lit(len(given_ids)))).alias("message"),
    ).with_columns(pl.when(pl.col("code").is_null()).then(pl.col("slot")).otherwise(-1).fill_null(-1).alias("slot"))
    return decided["slot"].to_numpy().astype(np.int64), tariffs, decided.select("code", "message")


def price_cdrs_file(cdrs: str | Path | bytes, tariffs: str | Path | Mapping[str, Tariff] | None = None,
                    timezone: str | None = None, policy: PricingPolicy = DEFAULT_POLICY,
                    currency: str | None = None) -> pl.DataFrame:
    """Price an NDJSON file (path or bytes; gzip is detected) of OCPI CDRs: one row per line (see the module
    docstring). `tariffs`: a folder of tariff files of any family, or `{id: Tariff}`; `currency`: that of
    bare Eevion tariffs in the folder. Raises `CdrFileError` only when the file itself cannot be read."""
    frame, unreadable = read_cdr_lines(cdrs)
    return price_cdr_lines(frame, unreadable, tariffs, timezone, policy, currency)


def read_cdr_lines(cdrs: str | Path | bytes) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
    """(the readable CDR lines as a frame, [(line, reason)] of the unreadable ones) of an NDJSON file or
    bytes: the first half of `price_cdrs_file`, so a caller can look at what was read before pricing it
    (the command line refuses a file with no CDR in it)."""
    return _read_lines(_read_bytes(cdrs))


def price_cdr_lines(frame: pl.DataFrame, unreadable: list[tuple[int, str]],
                    tariffs: str | Path | Mapping[str, Tariff] | None = None, timezone: str | None = None,
                    policy: PricingPolicy = DEFAULT_POLICY, currency: str | None = None) -> pl.DataFrame:
    """Price what `read_cdr_lines` read: the second half of `price_cdrs_file` (same arguments)."""
    frame = _snake_case(frame)
    given, refused_given = _given_tariffs(tariffs, timezone, currency)
    own, sealed, sealed_refusals = _sealed_tariffs(frame)
    periods, period_int, bad_periods = _periods(frame)
    slots, tariff_list, chosen = _choose_tariffs(frame, periods, own, given, refused_given, sealed, sealed_refusals)
    zones = _zones(frame, timezone)
    times = pl.DataFrame({"start": _instants(frame["start_date_time"]), "end": _instants(frame["end_date_time"])})

    usable = [t for t in tariff_list if t is not None]
    remap_source = {id(t): k for k, t in enumerate(usable)}
    # The kernel's arrays need at least one compiled tariff; with none usable every row is already an error.
    compiled, remap, compile_errors = _compile_each(usable or [_EMPTY_TARIFF], policy)
    kernel_of_slot = np.array([remap[remap_source[id(t)]] if t is not None else -1 for t in tariff_list] + [-1], dtype=np.int64)
    kernel_index = kernel_of_slot[slots]  # slot -1 picks the trailing -1
    slot_errors = {slot: compile_errors.get(remap_source[id(t)], ("TARIFF_NOT_COMPILABLE", ""))
                   for slot, t in enumerate(tariff_list) if t is not None and kernel_of_slot[slot] < 0}

    # Pre-kernel problems, in order: the CDR itself malformed, then no zone (decided before the tariff, as
    # in price_cdrs), then its tariff not found, then its tariff not compilable.
    first_bad = bad_periods.unique("line", keep="first", maintain_order=True).rename({"reason": "bad_period"})
    slot_code = pl.col("slot").replace_strict({k: v[0] for k, v in slot_errors.items()}, default=None, return_dtype=pl.String)
    slot_message = pl.col("slot").replace_strict({k: v[1] for k, v in slot_errors.items()}, default=None, return_dtype=pl.String)
    no_times = pl.col("start").is_null() | pl.col("end").is_null()
    decided = (pl.concat([frame.select("line"), times, chosen, zones.to_frame("zone"),
                          pl.DataFrame({"slot": slots})], how="horizontal")
               .join(first_bad, on="line", how="left", maintain_order="left")
               .select(
                   pl.when(pl.col("bad_period").is_not_null() | no_times).then(pl.lit("MALFORMED_CDR"))
                   .when(pl.col("zone").is_null()).then(pl.lit("TIMEZONE_UNRESOLVED"))
                   .when(pl.col("code").is_not_null()).then(pl.col("code"))
                   .otherwise(slot_code).alias("code"),
                   pl.when(pl.col("bad_period").is_not_null()).then(pl.col("bad_period"))
                   .when(no_times).then(pl.lit("start_date_time and end_date_time are required date-times"))
                   .when(pl.col("zone").is_null()).then(pl.lit(
                       "no time zone: the location has none and its country has several or none; pass --timezone"))
                   .when(pl.col("code").is_not_null()).then(pl.col("message"))
                   .otherwise(slot_message).alias("message")))
    codes_column, messages_column = decided["code"], decided["message"]

    offsets = np.zeros(frame.height + 1, dtype=np.int64)  # periods are in frame order, so CSR offsets count them
    np.cumsum(np.bincount(periods["row"].to_numpy(), minlength=frame.height), out=offsets[1:])
    zone_names = sorted(set(zones.drop_nulls().to_list())) or ["UTC"]
    zone_of = zones.replace_strict({z: i for i, z in enumerate(zone_names)}, default=0, return_dtype=pl.Int64)
    blocked = codes_column.is_not_null().to_numpy()
    session_int = np.zeros((frame.height, 6), dtype=np.int64)
    session_int[:, S_TARIFF] = np.maximum(kernel_index, 0)
    session_int[:, S_ZONE] = zone_of.to_numpy()
    session_int[:, S_START] = times["start"].fill_null(0).to_numpy()
    session_int[:, S_END] = times["end"].fill_null(0).to_numpy()
    session_int[:, S_EXPIRED] = -1
    # a CDR already refused is skipped by the kernel (any preset error code does that)
    session_int[:, S_ERROR] = np.where(blocked, ERROR_INDEX["UNKNOWN_TARIFF"], 0)
    starts = period_int[:, P_START]
    zone_table, valid = build_zone_table(zone_names, int(starts.min()) if starts.size else 0,
                                         int(starts.max()) if starts.size else 0)
    invalid_zone = ~np.array(valid, dtype=bool)[session_int[:, S_ZONE]]
    session_int[:, S_ERROR] = np.where((session_int[:, S_ERROR] == 0) & invalid_zone, ERROR_INDEX["UNKNOWN_TIMEZONE"],
                                       session_int[:, S_ERROR])
    batch = SessionBatch([], session_int, offsets, period_int, zone_table)
    output = price_batch(compiled, batch, policy_codes(policy), want_rows=False)

    ids_by_slot = pl.Series([t.id if t is not None else None for t in tariff_list] + [None], dtype=pl.String)
    tariff_ids = ids_by_slot.gather(np.where(slots < 0, len(tariff_list), slots))  # slot -1: the trailing null
    sessions = pl.DataFrame({"session_id": frame["line"].cast(pl.String), "tariff_id": tariff_ids},
                            schema={"session_id": pl.String, "tariff_id": pl.String})
    by_id = {t.id: t for t in tariff_list if t is not None}
    priced = frame_from_output(sessions, by_id, output)
    party = pl.concat_str([pl.col("country_code"), pl.col("party_id")], separator="-")
    result = pl.concat([
        frame.select("line", pl.col("id").alias("cdr_id"),
                     pl.when(party.is_not_null()).then(pl.format("ocpi:{}:{}", party, pl.col("id")))
                     .otherwise(pl.format("ocpi:{}", pl.col("id"))).alias("session_id")),
        pl.DataFrame({"tariff_id": tariff_ids}, schema={"tariff_id": pl.String}),
        pl.DataFrame({"pre_code": codes_column, "pre_error": messages_column}),
        priced.drop("session_id"),
    ], how="horizontal")
    kernel_message = pl.col("error_code").replace_strict(_KERNEL_MESSAGES, default=pl.col("error_code"), return_dtype=pl.String)
    result = result.with_columns(
        pl.coalesce("pre_code", "error_code").alias("error_code"),
        pl.when(pl.col("pre_code").is_not_null()).then(pl.col("pre_error")).otherwise(kernel_message).alias("error"),
    ).drop("pre_code", "pre_error")
    failed = pl.col("error_code").is_not_null()
    amounts = [c for c in result.columns if c.startswith("total_") or c == "pricing_warnings"]
    result = result.with_columns([pl.when(failed).then(None).otherwise(pl.col(c)).alias(c) for c in amounts])
    if unreadable:
        broken = pl.DataFrame({"line": [n for n, _ in unreadable], "error_code": ["MALFORMED_CDR"] * len(unreadable),
                               "error": [reason for _, reason in unreadable]},
                              schema={"line": pl.UInt32, "error_code": pl.String, "error": pl.String})
        result = pl.concat([result, broken], how="diagonal_relaxed").sort("line")
    return result.select(["line", "cdr_id", "session_id", "tariff_id", "currency", "error_code", "error",
                          *[c for c in result.columns if c.startswith("total_")], "pricing_warnings"])


_KERNEL_MESSAGES = dict(_ERROR_MESSAGES)


def write_priced(frame: pl.DataFrame, out: str | Path) -> None:
    """Write the priced frame as Parquet (.parquet) or NDJSON (.jsonl / .ndjson), amounts as exact decimals."""
    target = Path(out)
    if target.suffix == ".parquet":
        frame.write_parquet(target)
    elif target.suffix in (".jsonl", ".ndjson"):
        decimals = [c for c, dtype in frame.schema.items() if dtype.is_decimal()]
        frame.with_columns([pl.col(c).cast(pl.String) for c in decimals]).write_ndjson(target)
    else:
        raise CdrFileError(f"--out must end in .parquet, .jsonl or .ndjson, got {target.name}")


# Exit codes of `price-cdrs` (beyond the engine CLI's 0 success and 2 bad input).
EXIT_NO_CDRS = 3

_EPILOG = """Every non-blank line gives one output row: priced, or its error_code and error (a line that is not a
CDR object is MALFORMED_CDR with a reason). Exit codes: 0 the file was priced (rows with an error_code
included; the summary on stderr counts them); 2 bad input: the file is missing, a folder, unreadable gzip,
or not NDJSON at all (no line of it is a JSON object), and no output is written; 3 the file holds no CDRs
(0 bytes or only blank lines): a warning on stderr and an output file with 0 rows, or exit 0 with
--allow-empty (for feeds where an empty day is normal)."""


def register(subparsers: Any) -> Any:
    """Add the `price-cdrs` subcommand to the `python -m tariff_engine` parser."""
    parser = subparsers.add_parser("price-cdrs", help="price an NDJSON file of OCPI CDRs, columnar, to Parquet or NDJSON",
                                   description="Price an NDJSON file of OCPI CDRs, columnar.", epilog=_EPILOG)
    parser.add_argument("--cdrs", required=True, help="NDJSON file of OCPI CDRs (.jsonl, or .jsonl.gz)")
    parser.add_argument("--tariffs", help="folder of tariff files (any family) to look tariff ids up in first "
                                          "(default: only the tariffs sealed in each CDR)")
    parser.add_argument("--timezone", help="IANA time zone of every CDR (default: from each CDR's location)")
    parser.add_argument("--currency", help="currency of bare Eevion tariffs in --tariffs (default: none)")
    parser.add_argument("--strict", action="store_true", help="refuse glitches instead of repairing them with a warning")
    parser.add_argument("--allow-empty", action="store_true",
                        help=f"a file with no CDRs exits 0 instead of {EXIT_NO_CDRS} (the warning is still printed)")
    parser.add_argument("--out", required=True, help="output file: .parquet, .jsonl or .ndjson")
    parser.set_defaults(func=_command)
    return parser


def _command(args: Any) -> int:
    import sys

    from .policy import STRICT_POLICY

    try:
        if Path(args.out).suffix not in (".parquet", ".jsonl", ".ndjson"):
            raise CdrFileError(f"--out must end in .parquet, .jsonl or .ndjson, got {Path(args.out).name}")
        frame, unreadable = read_cdr_lines(args.cdrs)
        if frame.height == 0 and unreadable:
            raise CdrFileError(f"{args.cdrs} is not an NDJSON file of CDRs: none of its {len(unreadable)} lines is "
                               f"a JSON object (first: {unreadable[0][1]})")
        frame = price_cdr_lines(frame, unreadable, args.tariffs, args.timezone,
                                STRICT_POLICY if args.strict else DEFAULT_POLICY, args.currency)
        write_priced(frame, args.out)
    except (CdrFileError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if frame.height == 0:
        print(f"warning: {args.cdrs} holds no CDRs (empty or only blank lines); wrote 0 rows to {args.out}",
              file=sys.stderr)
        return 0 if args.allow_empty else EXIT_NO_CDRS
    failed = frame["error_code"].drop_nulls().value_counts(sort=True).iter_rows()
    parts = [f"{frame['error_code'].null_count()} priced"] + [f"{count} {code}" for code, count in failed]
    print(f"{frame.height} CDRs: {', '.join(parts)} -> {args.out}", file=sys.stderr)
    return 0
