"""The gateway as a process (``python -m resources.ocpp_gateway``) and its crash-safety of the landing file."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16

from resources.ocpp_gateway.frame_log import FrameRecorder
from tests.ocpp.conftest import CP16_ID, CP16_PASSWORD, free_port
from tests.ocpp.simulators import connected

REPO = Path(__file__).resolve().parents[2]


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 20.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gateway exited early: {process.stderr.read().decode()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError("gateway did not start listening")


def test_command_line_gateway_serves_and_records(tmp_path):
    port = free_port()
    env = {**os.environ, "TEST_OCPP_CREDS": json.dumps({CP16_ID: CP16_PASSWORD})}
    process = subprocess.Popen(
        [sys.executable, "-m", "resources.ocpp_gateway", "--port", str(port), "--landing", str(tmp_path / "landing"),
         "--state-dir", str(tmp_path / "state"), "--credentials-env", "TEST_OCPP_CREDS", "--writer", "gw-cli"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        _wait_for_port(port, process)

        async def scenario():
            async with connected(ChargePoint16, port, CP16_ID, CP16_PASSWORD, "ocpp1.6") as cp:
                boot = await cp.call(call16.BootNotification(charge_point_model="M", charge_point_vendor="V"))
                transfer = await cp.call(call16.DataTransfer(vendor_id="com.example"))
                start = await cp.call(call16.StartTransaction(connector_id=1, id_tag="T", meter_start=0,
                                                              timestamp="2026-11-20T08:00:00Z"))
                return boot.status, transfer.status, start.transaction_id

        assert asyncio.run(scenario()) == ("Accepted", "UnknownVendorId", 1)
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0
    assert CP16_PASSWORD not in stderr.decode()
    [landed] = list((tmp_path / "landing" / "ocpp").rglob("gw-cli.jsonl"))
    records = [json.loads(line) for line in landed.read_text().splitlines()]
    assert [(r["direction"], json.loads(r["raw"])[0]) for r in records] == [("in", 2), ("out", 3)] * 3
    assert (tmp_path / "state" / "transaction_ids.jsonl").read_text().count("\n") == 1


def test_command_line_gateway_refuses_to_start_without_credentials(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NO_SUCH_VAR")}
    result = subprocess.run(
        [sys.executable, "-m", "resources.ocpp_gateway", "--port", "1", "--landing", str(tmp_path),
         "--credentials-env", "NO_SUCH_VAR"], cwd=REPO, env=env, capture_output=True, timeout=30)
    assert result.returncode == 2 and b"neither NO_SUCH_VAR nor NO_SUCH_VAR_FILE is set" in result.stderr


def test_a_torn_last_line_is_closed_before_appending(tmp_path):
    moment = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    path = tmp_path / "ocpp" / "2026-11-20" / "08" / "gw.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"received_at": "2026-11-20T08:00:00.000000Z", "charge_point_id": "CP-1", "pro')
    recorder = FrameRecorder(tmp_path, "gw", clock=lambda: moment)
    recorder.record("CP-1", "ocpp1.6", "in", '[2,"a","Heartbeat",{}]')
    recorder.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and lines[0].endswith('"pro')
    assert json.loads(lines[1])["message_id"] == "a"


def test_group_commit_shares_fsyncs_and_loses_nothing(tmp_path, monkeypatch):
    from resources.ocpp_gateway import frame_log
    from resources.ocpp_gateway.frame_log import GroupCommitLog

    fsyncs = []
    real_fsync = os.fsync
    monkeypatch.setattr(frame_log.os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd)))
    moment = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    log = GroupCommitLog(FrameRecorder(tmp_path, "gw", clock=lambda: moment))

    async def many():
        return await asyncio.gather(*(log.record(f"CP-{i}", "ocpp1.6", "in", f'[2,"m{i}","Heartbeat",{{}}]')
                                      for i in range(50)))

    records = asyncio.run(many())
    log.recorder.close()
    lines = (tmp_path / "ocpp" / "2026-11-20" / "08" / "gw.jsonl").read_text().splitlines()
    assert [json.loads(line)["message_id"] for line in lines] == [r["message_id"] for r in records]
    assert len(lines) == 50 and len(set(lines)) == 50
    assert len(fsyncs) < 50  # directory syncs included, still far fewer than one per frame
