"""Benchmark: OCPP ingest throughput (frames/s, readings/s) and peak memory at benchmark scale.

Generates a synthetic fleet's landing files (1.6J and 2.0.1 charge points, each session = start,
periodic MeterValues with register + power + current, stop; both directions recorded), then runs the
three ingest steps as plain functions (``assets.ingest.ocpp.pipeline``), without Dagster or Parquet I/O.

Prints rows/s per step and the ratio of the whole ingest to the floor of the work, a bare
``json.loads`` of every landing line and its frame (how many times slower than just decoding the JSON).

Then the gateway: simulated 1.6 charge points (the ocpp package's client side) send MeterValues over
loopback websockets; frames/s durably recorded (fsynced before each answer) with group commit, against
the same gateway doing one fsync per frame (the ratio is what group commit buys).

    .venv/bin/python bench/bench_ingest_ocpp.py [--frames 200000] [--charge-points 20 --calls 100]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import socket
import tempfile
import json
import os
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ocpp.v16 import ChargePoint as ChargePoint16  # noqa: E402
from ocpp.v16 import call as call16  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from resources.ocpp_gateway.credentials import CredentialStore  # noqa: E402
from resources.ocpp_gateway.server import GatewayConfig, start_gateway  # noqa: E402
from assets.ingest.ocpp.pipeline import (  # noqa: E402
    build_meter_readings,
    build_ocpp_messages,
    build_transactions,
    charge_point_chunks,
    combine,
    text_batches,
)
from assets.ingest.ocpp.assets import TRANSACTION_ACTIONS  # noqa: E402
from assets.ingest.ocpp.tables import METER_READINGS, TRANSACTIONS  # noqa: E402

DAY = dt.date(2026, 11, 20)
SAMPLES_PER_SESSION = 20


def _line(cp: str, protocol: str, direction: str, frame: list, moment: datetime) -> str:
    return json.dumps({"received_at": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "charge_point_id": cp,
                       "protocol": protocol, "direction": direction, "message_id": frame[1],
                       "raw": json.dumps(frame, separators=(",", ":"))})


def _session_lines(cp: str, protocol: str, session: int, start: datetime) -> list[str]:
    lines = []
    received = start + timedelta(hours=2)
    register = 1_000_000 + session * 50_000

    def pair(action, payload, answer, index):
        """A CALL and its answer, 5 ms apart."""
        nonlocal received
        message_id = f"{cp}-{session}-{index}"
        lines.append(_line(cp, protocol, "in", [2, message_id, action, payload], received))
        received += timedelta(milliseconds=5)
        lines.append(_line(cp, protocol, "out", [3, message_id, answer], received))
        received += timedelta(milliseconds=5)

    stamp = lambda m: m.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    if protocol == "ocpp1.6":
        pair("StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": register, "timestamp": stamp(start)},
             {"transactionId": session, "idTagInfo": {"status": "Accepted"}}, 0)
        for index in range(1, SAMPLES_PER_SESSION + 1):
            moment = start + timedelta(minutes=index)
            pair("MeterValues", {"connectorId": 1, "transactionId": session, "meterValue": [{
                "timestamp": stamp(moment), "sampledValue": [
                    {"value": str(register + 183 * index), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                    {"value": "11.0", "measurand": "Power.Active.Import", "unit": "kW"},
                    {"value": "16.0", "measurand": "Current.Import", "unit": "A", "phase": "L1"}]}]}, {}, index)
        end = start + timedelta(minutes=SAMPLES_PER_SESSION + 1)
        pair("StopTransaction", {"transactionId": session, "meterStop": register + 183 * (SAMPLES_PER_SESSION + 1),
                                 "timestamp": stamp(end), "reason": "Local"}, {}, SAMPLES_PER_SESSION + 1)
    else:
        tx = f"{cp}-tx-{session}"
        for index in range(0, SAMPLES_PER_SESSION + 2):
            moment = start + timedelta(minutes=index)
            kind = "Started" if index == 0 else "Ended" if index == SAMPLES_PER_SESSION + 1 else "Updated"
            context = {"Started": "Transaction.Begin", "Ended": "Transaction.End"}.get(kind, "Sample.Periodic")
            payload = {"eventType": kind, "timestamp": stamp(moment), "triggerReason": "MeterValuePeriodic",
                       "seqNo": index, "transactionInfo": {"transactionId": tx, "chargingState": "Charging"},
                       "meterValue": [{"timestamp": stamp(moment), "sampledValue": [
                           {"value": (register + 183 * index) / 1000, "context": context,
                            "unitOfMeasure": {"unit": "kWh"}},
                           {"value": 11.0, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W", "multiplier": 3}},
                           {"value": 16.0, "measurand": "Current.Import", "phase": "L1"}]}]}
            if kind == "Started":
                payload["evse"] = {"id": 1, "connectorId": 1}
            pair("TransactionEvent", payload, {}, index)
    return lines


def generate(frames: int, root: Path) -> list[Path]:
    """Write landing files of about ``frames`` frames under ``root`` (one file per charge point)."""
    per_session = 2 * (SAMPLES_PER_SESSION + 2)
    sessions = max(frames // per_session, 2)
    charge_points = max(sessions // 8, 2)
    paths = []
    for cp_index in range(charge_points):
        protocol = "ocpp1.6" if cp_index % 2 == 0 else "ocpp2.0.1"
        cp = f"CP-{cp_index:05d}"
        lines = []
        for session in range(cp_index, sessions, charge_points):
            lines.extend(_session_lines(cp, protocol, session + 1, datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
                                        + timedelta(minutes=(session // charge_points) * 30)))
        path = root / "ocpp" / "2026-11-20" / "00" / f"{cp}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths


def _read(root: Path, paths: list[Path]):
    """(relative path, text) one file at a time, as the asset reads the landing zone."""
    return ((str(p.relative_to(root)), p.read_text()) for p in paths)


def readings_by_charge_point_groups(messages: pl.DataFrame):
    """The meter_readings step as the asset runs it: charge-point groups (no earlier landing dates here)."""
    reading_parts = []
    for charge_points in charge_point_chunks(messages):
        chunk = messages.filter(pl.col("charge_point_id").is_in(charge_points))
        starts = chunk.filter(pl.col("action").is_in(["StartTransaction", "StopTransaction", "TransactionEvent"]))
        reading_parts.append(build_meter_readings(chunk, DAY, METER_READINGS.empty_frame(), starts))
    return combine(reading_parts, METER_READINGS, DAY)


def transactions_by_charge_point_groups(messages: pl.DataFrame, readings: pl.DataFrame):
    """The transactions step per charge-point group, context = the group's transaction frames."""
    parts = []
    for charge_points in charge_point_chunks(messages):
        chunk = messages.filter(pl.col("charge_point_id").is_in(charge_points))
        parts.append(build_transactions(chunk, DAY, chunk.filter(pl.col("action").is_in(TRANSACTION_ACTIONS)),
                                        readings.filter(pl.col("charge_point_id").is_in(charge_points)
                                                        & pl.col("transaction_id").is_not_null())))
    return combine(parts, TRANSACTIONS, DAY)


async def _gateway_run(root: Path, charge_points: int, calls: int, max_frames_per_fsync: int | None) -> float:
    """Seconds for ``charge_points`` concurrent connections to each complete ``calls`` MeterValues."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Throw-away credentials for a throw-away loopback gateway; nothing is stored.
    password = base64.b64encode(os.urandom(12)).decode()
    ids = [f"BENCH-{index:03d}" for index in range(charge_points)]
    config = GatewayConfig(host="127.0.0.1", port=port, landing_root=root / "landing", state_dir=root / "state",
                           credentials=CredentialStore.from_mapping({cp: password for cp in ids}), writer="bench",
                           max_frames_per_fsync=max_frames_per_fsync)
    server = await start_gateway(config)

    async def charge_point(cp_id: str) -> None:
        """One simulated charge point sending its MeterValues back to back."""
        token = base64.b64encode(f"{cp_id}:{password}".encode()).decode()
        async with connect(f"ws://127.0.0.1:{port}/{cp_id}", subprotocols=["ocpp1.6"],
                           additional_headers={"Authorization": f"Basic {token}"}) as websocket:
            client = ChargePoint16(cp_id, websocket)
            router = asyncio.create_task(client.start())
            for index in range(calls):
                await client.call(call16.MeterValues(connector_id=1, transaction_id=1, meter_value=[{
                    "timestamp": "2026-11-20T08:00:00Z", "sampledValue": [{"value": str(index)}]}]))
            router.cancel()

    started = time.perf_counter()
    try:
        await asyncio.gather(*(charge_point(cp) for cp in ids))
    finally:
        server.close()
        await server.wait_closed()
        server.frame_recorder.close()
    return time.perf_counter() - started


def bench_gateway(charge_points: int, calls: int) -> None:
    """Frames/s through the gateway with group commit vs one fsync per frame."""
    frames = 2 * charge_points * calls
    with tempfile.TemporaryDirectory() as directory:
        grouped = asyncio.run(_gateway_run(Path(directory) / "grouped", charge_points, calls, None))
        single = asyncio.run(_gateway_run(Path(directory) / "single", charge_points, calls, 1))
    print(f"gateway: {charge_points} charge points x {calls} MeterValues, frames durably recorded: "
          f"{frames / grouped:,.0f}/s with group commit, {frames / single:,.0f}/s with one fsync per frame; "
          f"ratio {single / grouped:.1f}x")


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--charge-points", type=int, default=20)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="20,000 frames instead of 200,000")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.frames = min(arguments.frames, 20_000)
    workspace = tempfile.TemporaryDirectory()
    root = Path(workspace.name)
    paths = generate(arguments.frames, root)
    lines = sum(path.read_text().count("\n") for path in paths)

    def timed(step):
        """(result, wall seconds, CPU seconds): the machine is shared, CPU time is the steadier figure."""
        wall, cpu = time.perf_counter(), time.process_time()
        result = step()
        return result, time.perf_counter() - wall, time.process_time() - cpu

    def decode_only():
        """The floor: decode every landing line and its frame, nothing else."""
        for _, text in _read(root, paths):
            for line in text.splitlines():
                json.loads(json.loads(line)["raw"])

    _, base_wall, base_cpu = timed(decode_only)
    messages, m_wall, m_cpu = timed(lambda: build_ocpp_messages(text_batches(_read(root, paths)), DAY))
    readings, r_wall, r_cpu = timed(lambda: readings_by_charge_point_groups(messages.accepted))
    transactions, t_wall, t_cpu = timed(lambda: transactions_by_charge_point_groups(messages.accepted,
                                                                                    readings.accepted))
    assert messages.conserved and readings.conserved and transactions.conserved
    workspace.cleanup()

    total_wall, total_cpu = m_wall + r_wall + t_wall, m_cpu + r_cpu + t_cpu
    print(f"frames: {lines:,}  readings: {readings.rows_in:,}  transactions: {transactions.accepted.height:,}")
    print("step            rows/s (CPU)   rows/s (wall)")
    for name, rows, wall, cpu in [("ocpp_messages", lines, m_wall, m_cpu), ("meter_readings", readings.rows_in, r_wall, r_cpu),
                                  ("transactions", transactions.accepted.height, t_wall, t_cpu),
                                  ("whole (frames)", lines, total_wall, total_cpu)]:
        print(f"{name:<15} {rows / cpu:>12,.0f}   {rows / wall:>12,.0f}")
    print(f"ratio whole ingest / bare json.loads of every frame: {total_cpu / base_cpu:.1f}x CPU")
    print(f"peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB max RSS "
          "(whole process, benchmark generator included)")
    bench_gateway(arguments.charge_points, arguments.calls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
