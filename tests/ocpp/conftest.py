"""Fixtures for the OCPP tests: a gateway on a free loopback port with known credentials."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from resources.ocpp_gateway.credentials import CredentialStore
from resources.ocpp_gateway.server import GatewayConfig, start_gateway
from tests.ocpp.simulators import SteppingClock

CP16_ID = "CP-16"
CP16_PASSWORD = "s3cret-sixteen-Zq9"
CP201_ID = "CS-201"
CP201_PASSWORD = "s3cret-twoohone-Xw4"
# After the scripted sessions (08:00-09:40), so reading timestamps are never in the future.
GATEWAY_START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class GatewayHarness:
    """Runs coroutines against a gateway that lives for the duration of one ``run`` call."""

    config: GatewayConfig

    def run(self, scenario: Callable[[int], Awaitable]):
        """Start the gateway, run ``scenario(port)``, stop the gateway, return the scenario's result."""

        async def main():
            server = await start_gateway(self.config)
            try:
                return await scenario(self.config.port)
            finally:
                server.close()
                await server.wait_closed()
                server.frame_recorder.close()

        return asyncio.run(main())


@pytest.fixture
def gateway(tmp_path: Path, tmp_landing) -> GatewayHarness:
    """A gateway writing to the test's landing zone, with a deterministic clock."""
    config = GatewayConfig(
        host="127.0.0.1",
        port=free_port(),
        landing_root=tmp_landing.root_path,
        state_dir=tmp_path / "gateway_state",
        credentials=CredentialStore.from_mapping({CP16_ID: CP16_PASSWORD, CP201_ID: CP201_PASSWORD}),
        writer="gw-test",
        clock=SteppingClock(GATEWAY_START),
    )
    return GatewayHarness(config)


def materialize_partition(warehouse, landing, partition_key: str):
    """Materialise the three OCPP ingest assets for one landing date; returns the Dagster result."""
    import dagster as dg

    from assets.ingest.ocpp.assets import OCPP_ASSETS

    return dg.materialize(OCPP_ASSETS, partition_key=partition_key,
                          resources={"warehouse": warehouse, "landing": landing})
