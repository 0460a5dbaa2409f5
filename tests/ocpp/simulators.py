"""Simulated charge points built on the ocpp package's client side, driving the gateway over websockets.

Each simulator opens a real websocket to ``ws://127.0.0.1:<port>/<cp id>`` with HTTP Basic credentials,
runs the ocpp router in the background (to receive the CALLRESULTs) and plays a scripted session.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from websockets.asyncio.client import connect


def basic_auth_header(username: str, password: str) -> dict[str, str]:
    """The Authorization header of OCPP security profile 1."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def iso(moment: datetime) -> str:
    """OCPP dateTime with a Z suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SteppingClock:
    """A deterministic clock for the gateway: each reading advances by ``step``."""

    def __init__(self, start: datetime, step: timedelta = timedelta(milliseconds=10)):
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        current = self.now
        self.now = current + self.step
        return current


@contextlib.asynccontextmanager
async def connected(charge_point_class, port: int, cp_id: str, password: str, subprotocol: str):
    """Open an authenticated websocket and run the client-side router while the block runs."""
    async with connect(
        f"ws://127.0.0.1:{port}/{cp_id}",
        subprotocols=[subprotocol],
        additional_headers=basic_auth_header(cp_id, password),
        open_timeout=5,
    ) as websocket:
        charge_point = charge_point_class(cp_id, websocket)
        router = asyncio.create_task(charge_point.start())
        try:
            yield charge_point
        finally:
            router.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await router


@dataclass
class Session16:
    """A scripted OCPP 1.6 session: lifetime register from ``meter_start`` at ``power_w``."""

    connector_id: int = 1
    id_tag: str = "TAG-1"
    start: datetime = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    meter_start: int = 1_000_000
    samples: int = 3
    sample_seconds: int = 600
    power_w: int = 11_000


def register_at(session: Session16, index: int) -> int:
    """Register value (Wh) after ``index`` sample intervals."""
    return session.meter_start + session.power_w * session.sample_seconds * index // 3600


async def run_session_16(port: int, cp_id: str, password: str, session: Session16) -> int:
    """Boot, authorize, start, sample, stop over OCPP 1.6J; returns the issued transaction id."""
    async with connected(ChargePoint16, port, cp_id, password, "ocpp1.6") as cp:
        await cp.call(call16.BootNotification(charge_point_model="Sim16", charge_point_vendor="ChargeLedger"))
        await cp.call(call16.StatusNotification(connector_id=session.connector_id, error_code="NoError",
                                                status="Preparing", timestamp=iso(session.start)))
        await cp.call(call16.Authorize(id_tag=session.id_tag))
        started = await cp.call(call16.StartTransaction(
            connector_id=session.connector_id, id_tag=session.id_tag,
            meter_start=session.meter_start, timestamp=iso(session.start)))
        transaction_id = started.transaction_id
        await cp.call(call16.StatusNotification(connector_id=session.connector_id, error_code="NoError",
                                                status="Charging", timestamp=iso(session.start)))
        for index in range(1, session.samples + 1):
            moment = session.start + timedelta(seconds=session.sample_seconds * index)
            await cp.call(call16.MeterValues(
                connector_id=session.connector_id,
                transaction_id=transaction_id,
                meter_value=[{
                    "timestamp": iso(moment),
                    "sampledValue": [
                        {"value": str(register_at(session, index)), "measurand": "Energy.Active.Import.Register",
                         "unit": "Wh", "context": "Sample.Periodic", "location": "Outlet"},
                        {"value": f"{session.power_w / 1000:.1f}", "measurand": "Power.Active.Import",
                         "unit": "kW", "context": "Sample.Periodic"},
                        {"value": "16.0", "measurand": "Current.Import", "unit": "A", "phase": "L1",
                         "context": "Sample.Periodic"},
                    ],
                }],
            ))
        stop_moment = session.start + timedelta(seconds=session.sample_seconds * (session.samples + 1))
        meter_stop = register_at(session, session.samples + 1)
        await cp.call(call16.StatusNotification(connector_id=session.connector_id, error_code="NoError",
                                                status="SuspendedEV", timestamp=iso(stop_moment - timedelta(seconds=60))))
        await cp.call(call16.StopTransaction(
            meter_stop=meter_stop, timestamp=iso(stop_moment), transaction_id=transaction_id,
            reason="EVDisconnected", id_tag=session.id_tag,
            transaction_data=[{
                "timestamp": iso(stop_moment),
                "sampledValue": [{"value": str(meter_stop), "measurand": "Energy.Active.Import.Register",
                                  "unit": "Wh", "context": "Transaction.End"}],
            }],
        ))
        await cp.call(call16.StatusNotification(connector_id=session.connector_id, error_code="NoError",
                                                status="Available", timestamp=iso(stop_moment)))
        return transaction_id


@dataclass
class Session201:
    """A scripted OCPP 2.0.1 session; the register is reported in kWh with multiplier 0 or Wh with 3."""

    transaction_id: str = "TX-201-A"
    evse_id: int = 1
    connector_id: int = 1
    id_token: str = "TOKEN-9"
    start: datetime = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    register_start_kwh: float = 2000.0
    samples: int = 3
    sample_seconds: int = 600
    power_w: int = 22_000


def register_kwh_at(session: Session201, index: int) -> float:
    """Register (kWh) after ``index`` intervals."""
    return session.register_start_kwh + session.power_w * session.sample_seconds * index / 3600 / 1000


def _sampled_register(value_kwh: float, context: str) -> dict:
    # Sent as kWh, value 1.2345 with multiplier 0: the ingest must convert to Wh.
    return {"value": round(value_kwh, 4), "measurand": "Energy.Active.Import.Register", "context": context,
            "unitOfMeasure": {"unit": "kWh", "multiplier": 0}}


async def run_session_201(port: int, cp_id: str, password: str, session: Session201) -> str:
    """Boot, start, update (with a charging-state change), end over OCPP 2.0.1; returns the transaction id."""
    async with connected(ChargePoint201, port, cp_id, password, "ocpp2.0.1") as cp:
        await cp.call(call201.BootNotification(charging_station={"model": "Sim201", "vendor_name": "ChargeLedger"},
                                               reason="PowerUp"))
        await cp.call(call201.StatusNotification(timestamp=iso(session.start), connector_status="Occupied",
                                                 evse_id=session.evse_id, connector_id=session.connector_id))
        await cp.call(call201.Authorize(id_token={"id_token": session.id_token, "type": "ISO14443"}))
        await cp.call(call201.TransactionEvent(
            event_type="Started", timestamp=iso(session.start), trigger_reason="Authorized", seq_no=0,
            transaction_info={"transaction_id": session.transaction_id, "charging_state": "Charging"},
            evse={"id": session.evse_id, "connector_id": session.connector_id},
            id_token={"id_token": session.id_token, "type": "ISO14443"},
            meter_value=[{"timestamp": iso(session.start),
                          "sampled_value": [_sampled_register(session.register_start_kwh, "Transaction.Begin")]}],
        ))
        for index in range(1, session.samples + 1):
            moment = session.start + timedelta(seconds=session.sample_seconds * index)
            await cp.call(call201.TransactionEvent(
                event_type="Updated", timestamp=iso(moment), trigger_reason="MeterValuePeriodic", seq_no=index,
                transaction_info={"transaction_id": session.transaction_id},
                meter_value=[{"timestamp": iso(moment), "sampled_value": [
                    _sampled_register(register_kwh_at(session, index), "Sample.Periodic"),
                    {"value": session.power_w / 1000, "measurand": "Power.Active.Import", "context": "Sample.Periodic",
                     "unitOfMeasure": {"unit": "W", "multiplier": 3}},
                ]}],
            ))
        end = session.start + timedelta(seconds=session.sample_seconds * (session.samples + 1))
        await cp.call(call201.TransactionEvent(
            event_type="Updated", timestamp=iso(end - timedelta(seconds=60)), trigger_reason="ChargingStateChanged",
            seq_no=session.samples + 1,
            transaction_info={"transaction_id": session.transaction_id, "charging_state": "SuspendedEV"},
        ))
        await cp.call(call201.TransactionEvent(
            event_type="Ended", timestamp=iso(end), trigger_reason="EVCommunicationLost", seq_no=session.samples + 2,
            transaction_info={"transaction_id": session.transaction_id, "stopped_reason": "EVDisconnected",
                              "charging_state": "EVConnected"},
            meter_value=[{"timestamp": iso(end), "sampled_value": [
                _sampled_register(register_kwh_at(session, session.samples + 1), "Transaction.End")]}],
        ))
        return session.transaction_id
