"""Sampled values of metering frames as columns: the common payload shapes without a Python object per value.

The metering CALLs (1.6 ``MeterValues`` and ``StopTransaction.transactionData`` with string values, 2.0.1
``MeterValues`` and ``TransactionEvent`` with number values and ``unitOfMeasure``) are read by a strict byte
scan of their canonical payload (``meter_scan``), without a JSON decoder: one row per sampled value with its
indexes (``record_ref = <frame>#mv<i>.sv<j>``). The value normalisation (``units``) and the clock repair
(``clock``, once per meterValue) then run as expressions. Every frame the scan declines, and every frame with
one sampled value that these expressions cannot give exactly (a value or timestamp form they do not read, an
unknown unit, a value that ``readings.extract_readings`` would quarantine...), is handed back whole to
``extract_readings``, so every reason code still comes from one place.
"""

from __future__ import annotations

import polars as pl

from assets.ingest.ocpp.clock import repair_timestamp_columns
from assets.ingest.ocpp.meter_scan import SHAPE_CODES, scan_samples
from assets.ingest.ocpp.units import DEFAULT_CONTEXT, DEFAULT_LOCATION, DEFAULT_MEASURAND, normalise_value_columns

CANDIDATE_SCHEMA = {
    "record_ref": pl.String(), "transaction_id": pl.String(), "charge_point_id": pl.String(),
    "connector_id": pl.Int64(), "evse_id": pl.Int64(), "timestamp": pl.Datetime("us", "UTC"),
    "timestamp_raw": pl.String(), "received_at": pl.Datetime("us", "UTC"), "measurand": pl.String(),
    "phase": pl.String(), "location": pl.String(), "context": pl.String(), "value": pl.Float64(),
    "value_raw": pl.String(), "unit": pl.String(), "protocol": pl.String(), "message_id": pl.String(),
    "repair": pl.String(),
}


def _shape_samples(frames: pl.DataFrame, shape: tuple[str, str]) -> tuple[pl.DataFrame, pl.Series]:
    """(one row per sampled value of the ``frames`` of ``shape`` the byte scan reads exactly, raw fields, with
    its meterValue's timestamp repaired (``clock``); the ``_f`` of those frames). The rest go to the row path."""
    read, rows, meter_values = scan_samples(frames.get_column("payload_json"), shape)
    # One clock repair per meterValue, not per sampled value: its samples share the timestamp.
    received = frames.get_column("received_at").gather(meter_values.get_column("_frame"))
    times = repair_timestamp_columns(meter_values.with_columns(received), "timestamp_raw", "received_at")
    at = rows.get_column("_meter_value")
    frame_ids = frames.get_column("_f")
    rows = rows.with_columns(
        frame_ids.gather(rows.get_column("_frame")).alias("_f"),
        *(times.get_column(name).gather(at) for name in ("timestamp_raw", "_timestamp", "_time_repair", "_time_exact")),
    ).drop("_frame", "_meter_value")
    return rows, frame_ids.filter(pl.Series(read))


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
    for shape in SHAPE_CODES:
        protocol, action = shape
        of_shape = frames.filter((pl.col("protocol") == protocol) & (pl.col("action") == action)
                                 & pl.col("payload_json").is_not_null())
        if of_shape.is_empty():
            continue
        rows, read = _shape_samples(of_shape, shape)
        parts.append(rows)
        taken.append(read)
    empty = pl.DataFrame(schema=CANDIDATE_SCHEMA)
    if not parts:
        return empty, metering
    samples = pl.concat(parts, how="vertical_relaxed")
    # ``_f`` is the frame's position in ``frames``: its fields are gathered, not joined.
    at = samples.get_column("_f")
    samples = samples.with_columns(frames.get_column(name).gather(at) for name in (
        "record_ref", "received_at", "charge_point_id", "protocol", "message_id", "transaction_id"))
    samples = samples.with_columns(
        pl.when(pl.col("_measurand").is_null() | (pl.col("_measurand") == "")).then(pl.lit(DEFAULT_MEASURAND))
        .otherwise(pl.col("_measurand")).alias("measurand"),
        pl.when(pl.col("_location").is_null() | (pl.col("_location") == "")).then(pl.lit(DEFAULT_LOCATION))
        .otherwise(pl.col("_location")).alias("location"),
        pl.when(pl.col("_context").is_null() | (pl.col("_context") == "")).then(pl.lit(DEFAULT_CONTEXT))
        .otherwise(pl.col("_context")).alias("context"),
        pl.col("_phase").alias("phase"),
    )
    samples = normalise_value_columns(samples, "value_raw", "_unit", "_multiplier", "measurand")
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
