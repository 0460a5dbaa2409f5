"""Central-system message handlers for OCPP 1.6J and OCPP 2.0.1.

One ``ChargePoint`` instance serves one websocket connection (the ocpp package's model). The handlers
answer what the specifications require and nothing more: the gateway records, it does not decide about
billing. Every id tag / id token is accepted because authorisation against contracts happens downstream
(the settlement pipeline), and refusing a driver at the charger would lose the session.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v16.enums import AuthorizationStatus, DataTransferStatus, RegistrationStatus
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from ocpp.v201.enums import AuthorizationStatusEnumType, DataTransferStatusEnumType, RegistrationStatusEnumType

from resources.ocpp_gateway.transaction_ids import TransactionIdRegistry


def ocpp_now(clock: Callable[[], datetime]) -> str:
    """Current time as an OCPP dateTime (UTC, millisecond precision, ``Z``)."""
    return clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class CentralSystem16(ChargePoint16):
    """OCPP 1.6J central-system side of one charge point connection."""

    def __init__(self, charge_point_id, connection, *, transaction_ids: TransactionIdRegistry,
                 heartbeat_interval: int, clock: Callable[[], datetime]):
        super().__init__(charge_point_id, connection)
        self._transaction_ids = transaction_ids
        self._heartbeat_interval = heartbeat_interval
        self._clock = clock

    @on(Action16.boot_notification)
    def on_boot_notification(self, charge_point_vendor, charge_point_model, **_):
        """Accept the charge point and set its clock and heartbeat interval."""
        return result16.BootNotification(
            current_time=ocpp_now(self._clock),
            interval=self._heartbeat_interval,
            status=RegistrationStatus.accepted,
        )

    @on(Action16.heartbeat)
    def on_heartbeat(self, **_):
        """Answer with the central system's time (chargers sync their clock to it)."""
        return result16.Heartbeat(current_time=ocpp_now(self._clock))

    @on(Action16.status_notification)
    def on_status_notification(self, connector_id, error_code, status, **_):
        """Acknowledge; the ingest derives charging states from the recorded frame."""
        return result16.StatusNotification()

    @on(Action16.authorize)
    def on_authorize(self, id_tag, **_):
        """Accept every id tag (see the module docstring)."""
        return result16.Authorize(id_tag_info={"status": AuthorizationStatus.accepted})

    @on(Action16.start_transaction)
    def on_start_transaction(self, connector_id, id_tag, meter_start, timestamp, **_):
        """Issue a persistent transaction id (the same one again for a replayed start)."""
        transaction_id = self._transaction_ids.issue(self.id, connector_id, timestamp, meter_start, id_tag)
        return result16.StartTransaction(
            transaction_id=transaction_id,
            id_tag_info={"status": AuthorizationStatus.accepted},
        )

    @on(Action16.stop_transaction)
    def on_stop_transaction(self, meter_stop, timestamp, transaction_id, id_tag=None, **_):
        """Acknowledge; idTagInfo only when the charger sent an idTag (spec §6.46)."""
        if id_tag is None:
            return result16.StopTransaction()
        return result16.StopTransaction(id_tag_info={"status": AuthorizationStatus.accepted})

    @on(Action16.meter_values)
    def on_meter_values(self, connector_id, meter_value, **_):
        """Acknowledge; the readings are parsed by the ingest from the recorded frame."""
        return result16.MeterValues()

    # Chargers send these unprompted; an error answer would make some of them retry forever.
    @on(Action16.data_transfer)
    def on_data_transfer(self, vendor_id, **_):
        """No vendor extensions are supported (spec §4.3: UnknownVendorId)."""
        return result16.DataTransfer(status=DataTransferStatus.unknown_vendor_id)

    @on(Action16.diagnostics_status_notification)
    def on_diagnostics_status_notification(self, status, **_):
        """Acknowledge."""
        return result16.DiagnosticsStatusNotification()

    @on(Action16.firmware_status_notification)
    def on_firmware_status_notification(self, status, **_):
        """Acknowledge."""
        return result16.FirmwareStatusNotification()


class CentralSystem201(ChargePoint201):
    """OCPP 2.0.1 CSMS side of one charging station connection."""

    def __init__(self, charge_point_id, connection, *, heartbeat_interval: int, clock: Callable[[], datetime]):
        # No transaction id registry: 2.0.1 stations choose their own transaction ids.
        super().__init__(charge_point_id, connection)
        self._heartbeat_interval = heartbeat_interval
        self._clock = clock

    @on(Action201.boot_notification)
    def on_boot_notification(self, charging_station, reason, **_):
        """Accept the station and set its clock and heartbeat interval."""
        return result201.BootNotification(
            current_time=ocpp_now(self._clock),
            interval=self._heartbeat_interval,
            status=RegistrationStatusEnumType.accepted,
        )

    @on(Action201.heartbeat)
    def on_heartbeat(self, **_):
        """Answer with the CSMS time."""
        return result201.Heartbeat(current_time=ocpp_now(self._clock))

    @on(Action201.status_notification)
    def on_status_notification(self, timestamp, connector_status, evse_id, connector_id, **_):
        """Acknowledge (the request is recorded)."""
        return result201.StatusNotification()

    @on(Action201.authorize)
    def on_authorize(self, id_token, **_):
        """Accept every id token (see the module docstring)."""
        return result201.Authorize(id_token_info={"status": AuthorizationStatusEnumType.accepted})

    @on(Action201.transaction_event)
    def on_transaction_event(self, event_type, timestamp, trigger_reason, seq_no, transaction_info,
                             id_token=None, **_):
        """Acknowledge; idTokenInfo is required in the answer when the event carried an idToken (E01.FR.xx)."""
        if id_token is None:
            return result201.TransactionEvent()
        return result201.TransactionEvent(id_token_info={"status": AuthorizationStatusEnumType.accepted})

    @on(Action201.meter_values)
    def on_meter_values(self, evse_id, meter_value, **_):
        """Acknowledge; the readings are parsed by the ingest from the recorded frame."""
        return result201.MeterValues()

    @on(Action201.data_transfer)
    def on_data_transfer(self, vendor_id, **_):
        """No vendor extensions are supported (P01: UnknownVendorId)."""
        return result201.DataTransfer(status=DataTransferStatusEnumType.unknown_vendor_id)

    @on(Action201.notify_event)
    def on_notify_event(self, generated_at, seq_no, event_data, **_):
        """Acknowledge (device-model events are recorded, not interpreted)."""
        return result201.NotifyEvent()

    @on(Action201.security_event_notification)
    def on_security_event_notification(self, **_):
        """Acknowledge."""
        return result201.SecurityEventNotification()

    @on(Action201.firmware_status_notification)
    def on_firmware_status_notification(self, status, **_):
        """Acknowledge."""
        return result201.FirmwareStatusNotification()


CENTRAL_SYSTEM_BY_SUBPROTOCOL = {
    "ocpp1.6": CentralSystem16,
    "ocpp2.0.1": CentralSystem201,
}
