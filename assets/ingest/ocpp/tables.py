"""Warehouse tables of the OCPP ingest: ``ocpp_messages``, ``meter_readings``, ``transactions`` and the index
``ocpp_transaction_days``.

All four are partitioned by ``landing_date`` (the UTC day the frames landed, resources/README.md §1).
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from assets.columns import UTC
from resources.tables import TableSpec



class OcppMessageModel(pa.DataFrameModel):
    """Every accepted frame has a charge point, a known protocol, direction and message type."""

    charge_point_id: str = pa.Field(nullable=False, str_length={"min_value": 1})
    protocol: str = pa.Field(isin=["ocpp1.6", "ocpp2.0.1"])
    direction: str = pa.Field(isin=["in", "out"])
    message_type: str = pa.Field(isin=["CALL", "CALLRESULT", "CALLERROR"])
    message_id: str = pa.Field(nullable=False, str_length={"min_value": 1})


class MeterReadingModel(pa.DataFrameModel):
    """Readings carry a normalised unit and a finite value."""

    charge_point_id: str = pa.Field(nullable=False)
    measurand: str = pa.Field(nullable=False)
    context: str = pa.Field(nullable=False)
    unit: str = pa.Field(isin=["Wh", "varh", "W", "var", "VA", "A", "V", "Hz", "K", "Celsius", "Fahrenheit", "%"])
    value: float = pa.Field(nullable=False)


class TransactionModel(pa.DataFrameModel):
    """Transactions are open or complete; complete ones have a stop and non-negative energy."""

    transaction_id: str = pa.Field(nullable=False, str_startswith="ocpp:")
    status: str = pa.Field(isin=["open", "complete"])
    energy_wh: float = pa.Field(nullable=True, ge=0)

    @pa.dataframe_check
    def complete_has_stop(cls, data) -> pl.LazyFrame:
        """A complete transaction has a stop time."""
        return data.lazyframe.select((pl.col("status") != "complete") | pl.col("stop_timestamp").is_not_null())


OCPP_MESSAGES = TableSpec(
    name="ocpp_messages",
    description="Every OCPP-J frame landed (both directions), parsed; malformed frames are in quarantine.",
    schema={
        "landing_date": pl.Date(),
        "record_ref": pl.String(),
        "received_at": UTC,
        "charge_point_id": pl.String(),
        "protocol": pl.String(),
        "direction": pl.String(),
        "message_type": pl.String(),
        "message_id": pl.String(),
        "action": pl.String(),
        "transaction_id": pl.String(),
        "payload_json": pl.String(),
        "error_code": pl.String(),
        "error_description": pl.String(),
        "is_replay": pl.Boolean(),
        "raw": pl.String(),
    },
    partition_by=("landing_date",),
    sort_by=("received_at", "record_ref"),
    column_docs={
        "landing_date": "UTC day the frame landed (folder date).",
        "record_ref": "Landing file (relative to the landing root) and line number.",
        "received_at": "When the central system received (in) or sent (out) the frame, UTC.",
        "charge_point_id": "Charge point id from the websocket URL.",
        "protocol": "ocpp1.6 or ocpp2.0.1 (negotiated subprotocol).",
        "direction": "in = charge point to central system, out = the reverse.",
        "message_type": "CALL, CALLRESULT or CALLERROR.",
        "message_id": "OCPP-J unique message id.",
        "action": "Action of a CALL; for answers, the action of the CALL they answer (null if unknown).",
        "transaction_id": "ocpp:<cp>:<tx> the frame refers to (1.6 StartTransaction request and answer, Stop, MeterValues; 2.0.1 TransactionEvent).",
        "payload_json": "Payload object as canonical JSON (sorted keys).",
        "error_code": "CALLERROR error code.",
        "error_description": "CALLERROR description.",
        "is_replay": "A CALL whose charge point, direction, id and text were already seen this day (charger re-sent it).",
        "raw": "The frame text exactly as on the wire.",
    },
    model=OcppMessageModel,
)

METER_READINGS = TableSpec(
    name="meter_readings",
    description="OCPP sampled values normalised to Wh / W / A / %, keyed by (timestamp, measurand, phase, location, context), repaired by the documented rules.",
    schema={
        "landing_date": pl.Date(),
        "record_ref": pl.String(),
        "transaction_id": pl.String(),
        "charge_point_id": pl.String(),
        "connector_id": pl.Int64(),
        "evse_id": pl.Int64(),
        "timestamp": UTC,
        "timestamp_raw": pl.String(),
        "received_at": UTC,
        "measurand": pl.String(),
        "phase": pl.String(),
        "location": pl.String(),
        "context": pl.String(),
        "value": pl.Float64(),
        "value_raw": pl.String(),
        "unit": pl.String(),
        "protocol": pl.String(),
        "message_id": pl.String(),
        "repair": pl.String(),
    },
    partition_by=("landing_date",),
    sort_by=("charge_point_id", "transaction_id", "timestamp", "measurand", "phase", "location", "context", "record_ref"),
    column_docs={
        "landing_date": "UTC day the frame carrying the reading landed.",
        "record_ref": "<file>:<line>#mv<i>.sv<j> of the sampled value.",
        "transaction_id": "ocpp:<charge point>:<transaction id>, null for non-transactional readings.",
        "charge_point_id": "Charge point id.",
        "connector_id": "Connector (1.6 connectorId, 2.0.1 evse.connectorId); null when the frame does not say.",
        "evse_id": "2.0.1 EVSE id.",
        "timestamp": "Reading time in UTC after clock repair.",
        "timestamp_raw": "Reading time as the charger sent it.",
        "received_at": "When the frame was received.",
        "measurand": "OCPP measurand (default Energy.Active.Import.Register).",
        "phase": "Phase (null = overall value).",
        "location": "Outlet, Inlet, Body, Cable, EV (default Outlet).",
        "context": "Sample.Periodic, Transaction.Begin, ... (default Sample.Periodic).",
        "value": "Value in the stored unit (kWh and multipliers applied).",
        "value_raw": "Value as sent (JSON).",
        "unit": "Wh, varh, W, var, VA, A, V, Hz, K, Celsius, Fahrenheit or %.",
        "protocol": "ocpp1.6 or ocpp2.0.1.",
        "message_id": "OCPP message id of the frame.",
        "repair": "Repair rules applied (';'-separated), null when none.",
    },
    model=MeterReadingModel,
)

TRANSACTIONS = TableSpec(
    name="transactions",
    description="OCPP transactions assembled from all frames landed up to the partition's date; the latest landing_date row of a transaction is its current state.",
    schema={
        "landing_date": pl.Date(),
        "transaction_id": pl.String(),
        "charge_point_id": pl.String(),
        "protocol": pl.String(),
        "connector_id": pl.Int64(),
        "evse_id": pl.Int64(),
        "id_tag": pl.String(),
        "start_timestamp": UTC,
        "start_timestamp_raw": pl.String(),
        "stop_timestamp": UTC,
        "stop_timestamp_raw": pl.String(),
        "meter_start_wh": pl.Float64(),
        "meter_stop_wh": pl.Float64(),
        "energy_wh": pl.Float64(),
        "stop_reason": pl.String(),
        "status": pl.String(),
        "duration_s": pl.Int64(),
        "charging_duration_s": pl.Int64(),
        "charging_states": pl.List(pl.Struct({"timestamp": UTC, "state": pl.String()})),
        "reading_count": pl.Int64(),
        "seq_no_gaps": pl.Int64(),
        "offline_events": pl.Int64(),
        "repairs": pl.String(),
        "alias_transaction_ids": pl.String(),
    },
    partition_by=("landing_date",),
    sort_by=("transaction_id",),
    column_docs={
        "landing_date": "Landing day whose frames touched the transaction; state as of the end of that day.",
        "transaction_id": "ocpp:<charge point>:<transaction id>.",
        "charge_point_id": "Charge point id.",
        "protocol": "ocpp1.6 or ocpp2.0.1.",
        "connector_id": "Connector id.",
        "evse_id": "2.0.1 EVSE id.",
        "id_tag": "1.6 idTag or 2.0.1 idToken.idToken.",
        "start_timestamp": "Start in UTC after clock repair.",
        "start_timestamp_raw": "Start as sent.",
        "stop_timestamp": "Stop in UTC after clock repair (null while open).",
        "stop_timestamp_raw": "Stop as sent.",
        "meter_start_wh": "Register at start, Wh.",
        "meter_stop_wh": "Register at stop, Wh.",
        "energy_wh": "Energy delivered, Wh (sum of register segments; so far, while open).",
        "stop_reason": "OCPP stop reason (Local when the charger sends none).",
        "status": "open or complete.",
        "duration_s": "Stop minus start, seconds.",
        "charging_duration_s": "Seconds charging: 2.0.1 timeSpentCharging when sent, else time in the Charging state; null while open or without state information.",
        "charging_states": "Charging-state changes (2.0.1 chargingState; 1.6 StatusNotification Charging/SuspendedEV/SuspendedEVSE).",
        "reading_count": "Accepted meter readings of the transaction.",
        "seq_no_gaps": "2.0.1 seqNo values missing between the first and the last event.",
        "offline_events": "2.0.1 events sent with offline=true.",
        "repairs": "Transaction-level repair rules applied (';'-separated).",
        "alias_transaction_ids": "Ids merged into this one (replayed StartTransaction).",
    },
    model=TransactionModel,
)

# Written by ``ocpp_messages`` beside its partition (``transaction_days``): which earlier landing dates to read
# for a transaction, so the later steps never scan every earlier day's frames to find out.
OCPP_TRANSACTION_DAYS = TableSpec(
    name="ocpp_transaction_days",
    description="The landing dates that hold frames of each OCPP transaction: one row per transaction, charge point and landing date (an index of ocpp_messages).",
    schema={
        "landing_date": pl.Date(),
        "transaction_id": pl.String(),
        "charge_point_id": pl.String(),
    },
    partition_by=("landing_date",),
    sort_by=("transaction_id", "charge_point_id"),
    column_docs={
        "landing_date": "UTC day the frames landed (the ocpp_messages partition that holds them).",
        "transaction_id": "ocpp:<cp>:<tx> named by at least one frame of that landing date.",
        "charge_point_id": "Charge point of those frames.",
    },
)

TABLES: list[TableSpec] = [OCPP_MESSAGES, METER_READINGS, TRANSACTIONS, OCPP_TRANSACTION_DAYS]
