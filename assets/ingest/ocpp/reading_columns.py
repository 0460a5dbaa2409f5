"""Sampled values of metering frames as columns: the common payload shapes without a Python object per value.

The metering CALLs of a day are nearly all of four exact shapes (canonical JSON: sorted keys, no spaces,
strings without escapes): 1.6 ``MeterValues`` and ``StopTransaction.transactionData`` with string values,
2.0.1 ``MeterValues`` and ``TransactionEvent`` with number values and ``unitOfMeasure``. A frame is taken
here only when its whole payload matches the anchored pattern of its shape, so ``str.json_decode`` to that
shape's dtype reads it exactly; its meterValue / sampledValue lists are exploded with their indexes
(``record_ref = <frame>#mv<i>.sv<j>``), and the value normalisation (``units``) and the clock repair
(``clock``) run as expressions. Every frame of another shape, and every frame with one sampled value that
these expressions cannot give exactly (a value or timestamp form they do not read, an unknown unit, a
value that ``readings.extract_readings`` would quarantine...), is handed back whole to
``extract_readings``, so every reason code still comes from one place.
"""

from __future__ import annotations

import polars as pl

from assets.ingest.ocpp.clock import repair_timestamp_columns
from assets.ingest.ocpp.units import DEFAULT_CONTEXT, DEFAULT_LOCATION, DEFAULT_MEASURAND, normalise_value_columns

_STR = r'"[^"\\\x00-\x1f]*"'
_INT = r"-?(?:0|[1-9][0-9]{0,17})"
_NUM = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
_SCALAR = rf"(?:{_STR}|{_NUM}|true|false|null)"
_FLAT = rf"\{{(?:{_STR}:{_SCALAR}(?:,{_STR}:{_SCALAR})*)?\}}"
# 2.0.1 values without exponent: their text is the JSON the row path writes back (``value_raw``).
_FIXED = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?"

# Text fields may be null (the same as absent for every rule).
_TEXT = rf"(?:{_STR}|null)"
_SAMPLE_16 = rf'\{{"(?:context|format|location|measurand|phase|unit|value)":{_TEXT}' \
             rf'(?:,"(?:context|format|location|measurand|phase|unit|value)":{_TEXT})*\}}'
_UNIT_OF_MEASURE = rf'\{{(?:"multiplier":{_INT}(?:,"unit":{_TEXT})?|"unit":{_TEXT})?\}}'
_SAMPLE_201 = rf'\{{(?:"(?:context|location|measurand|phase)":{_TEXT},)*(?:"unitOfMeasure":{_UNIT_OF_MEASURE},)?' \
              rf'"value":{_FIXED}\}}'


def _meter_values(sample: str) -> str:
    one = rf'\{{"sampledValue":\[{sample}(?:,{sample})*\],"timestamp":{_STR}\}}'
    return rf"\[{one}(?:,{one})*\]"


# (protocol, action) -> (anchored pattern of the whole payload, the key of the meterValue list)
SHAPES: dict[tuple[str, str], tuple[str, str]] = {
    ("ocpp1.6", "MeterValues"): (
        rf'^\{{(?:"connectorId":{_INT},)?"meterValue":{_meter_values(_SAMPLE_16)}(?:,"transactionId":{_SCALAR})?\}}$',
        "meterValue"),
    ("ocpp1.6", "StopTransaction"): (
        rf'^\{{(?:"(?:idTag|meterStop|reason|timestamp)":{_SCALAR},)*"transactionData":{_meter_values(_SAMPLE_16)}'
        rf'(?:,"transactionId":{_SCALAR})?\}}$',
        "transactionData"),
    ("ocpp2.0.1", "MeterValues"): (
        rf'^\{{(?:"evseId":{_INT},)?"meterValue":{_meter_values(_SAMPLE_201)}\}}$', "meterValue"),
    ("ocpp2.0.1", "TransactionEvent"): (
        rf'^\{{(?:"cableMaxCurrent":{_NUM},)?(?:"eventType":{_STR},)?'
        rf'(?:"evse":\{{(?:"connectorId":{_INT}(?:,"id":{_INT})?|"id":{_INT})?\}},)?(?:"idToken":{_FLAT},)?'
        rf'(?:"meterValue":{_meter_values(_SAMPLE_201)},)?(?:"numberOfPhasesUsed":{_NUM},)?'
        rf'(?:"offline":(?:true|false),)?(?:"reservationId":{_NUM},)?(?:"seqNo":{_NUM},)?(?:"timestamp":{_STR},)?'
        rf'(?:"transactionInfo":{_FLAT},)?(?:"triggerReason":{_STR},)?\}}$',
        "meterValue"),
}
# The TransactionEvent pattern lets every key end with a comma; the payload is matched with one added.
_TRAILING_COMMA = {("ocpp2.0.1", "TransactionEvent")}
# A 2.0.1 value's JSON text, in document order; a flat object of a TransactionEvent may hold another
# numeric "value" key, so ``_values_aligned`` sends frames whose count differs from their samples' away.
_VALUE_TEXT = rf'"value":({_FIXED})[,}}]'

_SAMPLE_FIELDS = ["context", "location", "measurand", "phase"]
_DTYPE_16 = pl.Struct({f: pl.String() for f in [*_SAMPLE_FIELDS, "unit", "value"]})
_DTYPE_201 = pl.Struct({**{f: pl.String() for f in _SAMPLE_FIELDS},
                        "unitOfMeasure": pl.Struct({"multiplier": pl.Int64(), "unit": pl.String()})})


def _list_dtype(sample: pl.Struct) -> pl.List:
    return pl.List(pl.Struct({"sampledValue": pl.List(sample), "timestamp": pl.String()}))


_DECODE = {
    ("ocpp1.6", "MeterValues"): pl.Struct({"connectorId": pl.Int64(), "meterValue": _list_dtype(_DTYPE_16)}),
    ("ocpp1.6", "StopTransaction"): pl.Struct({"transactionData": _list_dtype(_DTYPE_16)}),
    ("ocpp2.0.1", "MeterValues"): pl.Struct({"evseId": pl.Int64(), "meterValue": _list_dtype(_DTYPE_201)}),
    ("ocpp2.0.1", "TransactionEvent"): pl.Struct({"evse": pl.Struct({"connectorId": pl.Int64(), "id": pl.Int64()}),
                                                  "meterValue": _list_dtype(_DTYPE_201)}),
}

CANDIDATE_SCHEMA = {
    "record_ref": pl.String(), "transaction_id": pl.String(), "charge_point_id": pl.String(),
    "connector_id": pl.Int64(), "evse_id": pl.Int64(), "timestamp": pl.Datetime("us", "UTC"),
    "timestamp_raw": pl.String(), "received_at": pl.Datetime("us", "UTC"), "measurand": pl.String(),
    "phase": pl.String(), "location": pl.String(), "context": pl.String(), "value": pl.Float64(),
    "value_raw": pl.String(), "unit": pl.String(), "protocol": pl.String(), "message_id": pl.String(),
    "repair": pl.String(),
}


def _shape_samples(frames: pl.DataFrame, shape: tuple[str, str]) -> pl.DataFrame:
    """One row per sampled value of ``frames`` (all of ``shape`` and matching its pattern), raw fields."""
    protocol, action = shape
    key = SHAPES[shape][1]
    decoded = frames.with_columns(pl.col("payload_json").str.json_decode(_DECODE[shape]).alias("_p"))
    if action == "MeterValues" and protocol == "ocpp1.6":
        place = [pl.col("_p").struct.field("connectorId").alias("connector_id"), pl.lit(None, pl.Int64()).alias("evse_id")]
    elif action == "MeterValues":
        place = [pl.lit(None, pl.Int64()).alias("connector_id"), pl.col("_p").struct.field("evseId").alias("evse_id")]
    elif action == "StopTransaction":
        place = [pl.lit(None, pl.Int64()).alias("connector_id"), pl.lit(None, pl.Int64()).alias("evse_id")]
    else:
        evse = pl.col("_p").struct.field("evse")
        place = [evse.struct.field("connectorId").alias("connector_id"), evse.struct.field("id").alias("evse_id")]
    rows = (decoded.select("_f", *place, pl.col("_p").struct.field(key).alias("_mv_item"))
            .filter(pl.col("_mv_item").list.len() > 0)
            .with_columns(pl.int_ranges(0, pl.col("_mv_item").list.len()).alias("_mv"))
            .explode("_mv_item", "_mv")
            .with_columns(pl.col("_mv_item").struct.field("timestamp").alias("timestamp_raw"),
                          pl.col("_mv_item").struct.field("sampledValue").alias("_sv_item"))
            .drop("_mv_item")
            .with_columns(pl.int_ranges(0, pl.col("_sv_item").list.len()).alias("_sv"))
            .explode("_sv_item", "_sv"))
    sample = pl.col("_sv_item")
    fields = [sample.struct.field(name).alias(f"_{name}") for name in _SAMPLE_FIELDS]
    if protocol == "ocpp1.6":
        fields += [sample.struct.field("unit").alias("_unit"), pl.lit(None, pl.Int64()).alias("_multiplier"),
                   sample.struct.field("value").alias("value_raw")]
    else:
        unit_of_measure = sample.struct.field("unitOfMeasure")
        fields += [unit_of_measure.struct.field("unit").alias("_unit"),
                   unit_of_measure.struct.field("multiplier").alias("_multiplier")]
    rows = rows.with_columns(fields).drop("_sv_item")
    if protocol != "ocpp1.6":
        # The JSON text of each value, in document order = the order of the exploded samples.
        texts = frames.select(pl.col("payload_json").str.extract_all(_VALUE_TEXT).alias("_t")).explode("_t")
        rows = rows.with_columns(texts.get_column("_t").drop_nulls().str.slice(8).str.head(-1)
                                 .alias("value_raw"))
    return rows


def _values_aligned(frames: pl.DataFrame, shape: tuple[str, str]) -> pl.DataFrame:
    """The 2.0.1 frames with exactly one numeric ``"value":`` text per sampled value (a flat object of the
    TransactionEvent pattern may hold another one: such a frame goes to the row path)."""
    key = SHAPES[shape][1]
    samples = (pl.col("payload_json").str.json_decode(_DECODE[shape]).struct.field(key)
               .list.eval(pl.element().struct.field("sampledValue").list.len()).list.sum().fill_null(0))
    texts = pl.col("payload_json").str.count_matches(_VALUE_TEXT)
    return frames.filter(samples == texts)


def extract_columns(metering: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(candidate readings of the frames of the common shapes, in ``CANDIDATE_SCHEMA``; the frames left to
    ``readings.extract_readings``, as given).

    ``metering``: the metering CALLs (``ocpp_messages`` columns, at least record_ref, received_at,
    charge_point_id, protocol, action, message_id, transaction_id, payload_json). Each candidate is one
    sampled value and none is quarantined here, so the frames taken count ``rows_in`` = candidates. The
    transaction id is the frame's ``transaction_id`` column (``frames.frame_transaction_id``: the same
    payload field as ``readings._frame_context`` reads).
    """
    frames = metering.with_row_index("_f").with_columns(pl.col("_f").cast(pl.Int64()))
    parts: list[pl.DataFrame] = []
    taken: list[pl.Series] = []
    for shape, (pattern, _key) in SHAPES.items():
        protocol, action = shape
        payload = pl.col("payload_json")
        if shape in _TRAILING_COMMA:
            payload = payload.str.strip_suffix("}") + ",}"
        of_shape = frames.filter((pl.col("protocol") == protocol) & (pl.col("action") == action)
                                 & payload.str.contains(pattern).fill_null(False))
        if of_shape.is_empty():
            continue
        if protocol != "ocpp1.6":
            of_shape = _values_aligned(of_shape, shape)
        parts.append(_shape_samples(of_shape, shape))
        taken.append(of_shape.get_column("_f"))
    empty = pl.DataFrame(schema=CANDIDATE_SCHEMA)
    if not parts:
        return empty, metering
    samples = pl.concat(parts, how="vertical_relaxed")
    context = frames.select("_f", "record_ref", "received_at", "charge_point_id", "protocol", "message_id",
                            "transaction_id")
    samples = samples.join(context, on="_f", how="left")
    samples = samples.with_columns(
        pl.when(pl.col("_measurand").is_null() | (pl.col("_measurand") == "")).then(pl.lit(DEFAULT_MEASURAND))
        .otherwise(pl.col("_measurand")).alias("measurand"),
        pl.when(pl.col("_location").is_null() | (pl.col("_location") == "")).then(pl.lit(DEFAULT_LOCATION))
        .otherwise(pl.col("_location")).alias("location"),
        pl.when(pl.col("_context").is_null() | (pl.col("_context") == "")).then(pl.lit(DEFAULT_CONTEXT))
        .otherwise(pl.col("_context")).alias("context"),
        pl.col("_phase").alias("phase"),
    )
    samples = repair_timestamp_columns(normalise_value_columns(samples, "value_raw", "_unit", "_multiplier",
                                                               "measurand"), "timestamp_raw", "received_at")
    # The row path writes a 2.0.1 number back with Python's repr: exponent form below 1e-4 (the canonical
    # payload has 0.00001 where repr has 1e-05), so such values take the row path.
    number = pl.col("value_raw").cast(pl.Float64(), strict=False).abs()
    repr_fixed = ((pl.col("protocol") == "ocpp1.6") | ~pl.col("value_raw").str.contains(".", literal=True)
                  | (number == 0) | (number >= 1e-4))
    exact = pl.col("_value_exact") & pl.col("_time_exact") & pl.col("_stored_unit").is_not_null() \
        & pl.col("value_raw").is_not_null() & repr_fixed.fill_null(False)
    inexact = samples.filter(~exact).get_column("_f").unique()
    fast = samples.filter(~pl.col("_f").is_in(inexact.implode()))
    candidates = fast.select(
        pl.format("{}#mv{}.sv{}", "record_ref", "_mv", "_sv").alias("record_ref"),
        "transaction_id", "charge_point_id", "connector_id", "evse_id",
        pl.col("_timestamp").alias("timestamp"), "timestamp_raw", "received_at", "measurand", "phase", "location",
        "context", pl.col("_value").alias("value"), "value_raw", pl.col("_stored_unit").alias("unit"), "protocol",
        "message_id", pl.col("_time_repair").alias("repair"),
    ).cast(CANDIDATE_SCHEMA)
    fast_frames = pl.concat(taken)
    fast_frames = fast_frames.filter(~fast_frames.is_in(inexact.implode()))
    rest = frames.filter(~pl.col("_f").is_in(fast_frames.implode())).drop("_f")
    return candidates, rest
