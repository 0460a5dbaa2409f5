"""Gateway behaviour on the wire: authentication, subprotocols, durable recording, transaction ids, secrets."""

from __future__ import annotations

import json
import logging

import pytest
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from resources.ocpp_gateway.credentials import (
    CredentialsError,
    CredentialStore,
    load_credentials_from_env,
    password_digest,
)
from resources.ocpp_gateway.transaction_ids import TransactionIdRegistry
from tests.ocpp.conftest import CP16_ID, CP16_PASSWORD, CP201_ID, CP201_PASSWORD, materialize_partition
from tests.ocpp.simulators import (
    Session16,
    Session201,
    basic_auth_header,
    connected,
    run_session_16,
    run_session_201,
)


def _handshake_status(gateway, path: str, headers: dict, subprotocols: list[str]) -> int:
    async def scenario(port):
        try:
            async with connect(f"ws://127.0.0.1:{port}/{path}", subprotocols=subprotocols,
                               additional_headers=headers, open_timeout=5):
                return 101
        except InvalidStatus as refused:
            return refused.response.status_code

    return gateway.run(scenario)


@pytest.mark.parametrize(
    ("path", "username", "password", "expected"),
    [
        (CP16_ID, CP16_ID, CP16_PASSWORD, 101),
        (CP16_ID, CP16_ID, "wrong-password", 401),
        ("CP-UNKNOWN", "CP-UNKNOWN", CP16_PASSWORD, 401),
        # Another charge point's valid credentials do not open this charge point's URL.
        (CP16_ID, CP201_ID, CP201_PASSWORD, 401),
        (CP201_ID, CP16_ID, CP16_PASSWORD, 401),
    ],
)
def test_basic_auth_is_checked_in_the_handshake(gateway, tmp_landing, path, username, password, expected):
    status = _handshake_status(gateway, path, basic_auth_header(username, password), ["ocpp1.6"])
    assert status == expected
    if expected == 401:
        assert not tmp_landing.root_path.joinpath("ocpp").exists()  # nothing read, nothing landed


def test_missing_credentials_are_refused(gateway):
    assert _handshake_status(gateway, CP16_ID, {}, ["ocpp1.6"]) == 401


@pytest.mark.parametrize(("offered", "expected"), [(["ocpp1.5"], 400), ([], 400), (["ocpp2.0.1", "ocpp1.6"], 101)])
def test_only_ocpp16_and_201_subprotocols_are_accepted(gateway, offered, expected):
    assert _handshake_status(gateway, CP16_ID, basic_auth_header(CP16_ID, CP16_PASSWORD), offered) == expected


def test_every_frame_is_on_disk_before_the_answer_arrives(gateway, tmp_landing):
    async def scenario(port):
        observed = []
        async with connected(ChargePoint16, port, CP16_ID, CP16_PASSWORD, "ocpp1.6") as cp:
            for _ in range(3):
                await cp.call(call16.Heartbeat())
                [path] = tmp_landing.files("ocpp", "2026-11-20")
                lines = [json.loads(line) for line in path.read_text().splitlines()]
                observed.append([(line["direction"], line["message_id"]) for line in lines[-2:]])
        return observed

    observed = gateway.run(scenario)
    for (request_dir, request_id), (answer_dir, answer_id) in observed:
        assert (request_dir, answer_dir) == ("in", "out") and request_id == answer_id
    [path] = tmp_landing.files("ocpp", "2026-11-20")
    assert path.relative_to(tmp_landing.root_path).as_posix() == "ocpp/2026-11-20/12/gw-test.jsonl"
    first = json.loads(path.read_text().splitlines()[0])
    assert set(first) == {"received_at", "charge_point_id", "protocol", "direction", "message_id", "raw"}
    assert first["received_at"] == "2026-11-20T12:00:00.000000Z" and first["protocol"] == "ocpp1.6"
    assert json.loads(first["raw"])[2] == "Heartbeat"


def test_transaction_ids_survive_a_restart_and_replays_get_the_same_id(gateway):
    async def start(port, timestamp, meter_start):
        async with connected(ChargePoint16, port, CP16_ID, CP16_PASSWORD, "ocpp1.6") as cp:
            answer = await cp.call(call16.StartTransaction(connector_id=1, id_tag="T", meter_start=meter_start,
                                                           timestamp=timestamp))
            return answer.transaction_id

    first = gateway.run(lambda port: start(port, "2026-11-20T08:00:00Z", 10))
    second = gateway.run(lambda port: start(port, "2026-11-20T09:00:00Z", 20))  # a new gateway process state
    replay = gateway.run(lambda port: start(port, "2026-11-20T08:00:00Z", 10))
    assert (first, second, replay) == (1, 2, 1)
    registry = TransactionIdRegistry(gateway.config.state_dir / "transaction_ids.jsonl")
    assert registry.issue("CP-16", 2, "2026-11-20T10:00:00Z", 30, "T") == 3


def test_transaction_register_ignores_a_torn_last_line(tmp_path):
    path = tmp_path / "ids.jsonl"
    path.write_text('{"transaction_id": 7, "start_key": ["CP", 1, "t", 0, "x"]}\n{"transaction_id": 8, "sta')
    assert TransactionIdRegistry(path).issue("CP", 1, "t2", 0, "x") == 8


def test_secrets_never_reach_logs_landing_or_warehouse(gateway, tmp_landing, tmp_warehouse, caplog):
    caplog.set_level(logging.DEBUG)

    async def scenario(port):
        await run_session_16(port, CP16_ID, CP16_PASSWORD, Session16())
        await run_session_201(port, CP201_ID, CP201_PASSWORD, Session201())
        try:
            async with connect(f"ws://127.0.0.1:{port}/{CP16_ID}", subprotocols=["ocpp1.6"],
                               additional_headers=basic_auth_header(CP16_ID, CP201_PASSWORD), open_timeout=5):
                pass
        except InvalidStatus:
            pass

    gateway.run(scenario)
    materialize_partition(tmp_warehouse, tmp_landing, "2026-11-20")
    secrets = [CP16_PASSWORD, CP201_PASSWORD]
    assert all(secret not in caplog.text for secret in secrets)
    roots = [tmp_landing.root_path, tmp_warehouse.root_path, gateway.config.state_dir]
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                content = path.read_bytes()
                assert all(secret.encode() not in content for secret in secrets), path


def test_credentials_from_env_inline_file_and_digest(tmp_path, monkeypatch):
    monkeypatch.setenv("OCPP_CREDS", json.dumps({"CP-1": "pw-one", "CP-2": "sha256:" + password_digest("pw-two").hex()}))
    store = load_credentials_from_env("OCPP_CREDS")
    assert store.check("CP-1", "CP-1", "pw-one") and store.check("CP-2", "CP-2", "pw-two")
    assert not store.check("CP-1", "CP-1", "pw-two") and not store.check("CP-3", "CP-3", "pw-one")
    assert all(len(digest) == 32 for digest in store.digests.values())

    monkeypatch.delenv("OCPP_CREDS")
    secret_file = tmp_path / "creds.json"
    secret_file.write_text(json.dumps({"CP-9": "pw-nine"}))
    monkeypatch.setenv("OCPP_CREDS_FILE", str(secret_file))
    assert load_credentials_from_env("OCPP_CREDS").check("CP-9", "CP-9", "pw-nine")

    monkeypatch.setenv("OCPP_CREDS", "{not json pw-leak")
    with pytest.raises(CredentialsError) as error:
        load_credentials_from_env("OCPP_CREDS")
    assert "pw-leak" not in str(error.value)
    with pytest.raises(CredentialsError):
        CredentialStore.from_mapping({})


def test_unprompted_201_notifications_are_acknowledged(gateway):
    from ocpp.v201 import ChargePoint as ChargePoint201
    from ocpp.v201 import call as call201

    async def scenario(port):
        async with connected(ChargePoint201, port, CP201_ID, CP201_PASSWORD, "ocpp2.0.1") as cp:
            transfer = await cp.call(call201.DataTransfer(vendor_id="com.example"))
            await cp.call(call201.SecurityEventNotification(type="StartupOfTheDevice", timestamp="2026-11-20T08:00:00Z"))
            await cp.call(call201.FirmwareStatusNotification(status="Installed"))
            await cp.call(call201.NotifyEvent(generated_at="2026-11-20T08:00:00Z", seq_no=0, event_data=[{
                "event_id": 1, "timestamp": "2026-11-20T08:00:00Z", "trigger": "Delta", "actual_value": "1",
                "event_notification_type": "HardWiredNotification",
                "component": {"name": "Connector"}, "variable": {"name": "Available"}}]))
            beat = await cp.call(call201.Heartbeat())
            return transfer.status, beat.current_time

    status, current_time = gateway.run(scenario)
    assert status == "UnknownVendorId" and current_time.startswith("2026-11-20T12:00:00")
