"""Fixtures for the API tests: running stand-ins, clients pointed at them, reference zones, a runner."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import dagster as dg
import polars as pl
import pytest

from assets.reference.tables import LOCATIONS, OPERATORS
from resources.eevion_api import EevionApiResource
from resources.platform_api import PlatformApiResource
from resources.warehouse import WarehouseResource
from tests.standins.eevion import EevionStandin
from tests.standins.platform import PlatformStandin

# Secret values the tests hand to the clients; test_secrets greps every output for them.
PLATFORM_TOKEN = "plat-tok-3f9a1c7e5b2d4860"
EEVION_KEY = "eev-key-81c2d9e0a7f34b65"
WEBHOOK_TOKEN = "hook-tok-5e7d1a9c3b0f2468"
CHARGE_CLIENT_SECRET = "chg-secret-0a1b2c3d4e5f6789"
SECRETS = (PLATFORM_TOKEN, EEVION_KEY, WEBHOOK_TOKEN, CHARGE_CLIENT_SECRET)

LANDING_DAY = "2026-11-21"


@pytest.fixture
def platform_server() -> Iterator[PlatformStandin]:
    """A platform stand-in with an empty store (tests add records)."""
    server = PlatformStandin(PLATFORM_TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def platform_api(platform_server: PlatformStandin) -> PlatformApiResource:
    """The real client, pointed at the stand-in, with short backoffs so fault tests stay fast."""
    return PlatformApiResource(base_url=platform_server.url, api_token=PLATFORM_TOKEN, backoff_seconds=0.01,
                               max_backoff_seconds=2.0, timeout_seconds=2.0)


@pytest.fixture
def eevion_server() -> Iterator[EevionStandin]:
    """An Eevion stand-in with the documented 60 requests / 60 s limit."""
    server = EevionStandin(EEVION_KEY).start()
    yield server
    server.stop()


@pytest.fixture
def eevion_api(eevion_server: EevionStandin) -> EevionApiResource:
    """The real Eevion client against the stand-in."""
    return EevionApiResource(base_url=f"{eevion_server.url}/api/eevion", api_key=EEVION_KEY, page_limit=5,
                             backoff_seconds=0.01, max_backoff_seconds=2.0, timeout_seconds=2.0)


def write_reference(warehouse: WarehouseResource) -> None:
    """Operator 1 in Europe/Berlin and the stand-in's CDR locations LOC-100..LOC-104."""
    operators = pl.DataFrame({"operator_id": ["1"], "name": ["Demo CPO"], "country": ["DE"],
                              "time_zone": ["Europe/Berlin"], "currency": ["EUR"], "raw_payload": ["{}"]},
                             schema=OPERATORS.schema)
    warehouse.write_partition(OPERATORS, operators)
    ids = [f"LOC-{n}" for n in range(100, 105)]
    locations = pl.DataFrame({"location_id": ids, "operator_id": ["1"] * 5, "country_code": ["DE"] * 5,
                              "party_id": ["ABC"] * 5, "name": ids, "city": ["Hamburg"] * 5,
                              "time_zone": ["Europe/Berlin"] * 5, "evse_count": [2] * 5, "raw_payload": ["{}"] * 5},
                             schema=LOCATIONS.schema)
    warehouse.write_partition(LOCATIONS, locations)


@pytest.fixture
def reference_warehouse(tmp_warehouse: WarehouseResource) -> WarehouseResource:
    """The temporary warehouse with the reference zones the parsers need."""
    write_reference(tmp_warehouse)
    return tmp_warehouse


def run_assets(assets: list[Any], resources: dict[str, Any], partition: str = LANDING_DAY) -> dg.ExecuteInProcessResult:
    """Materialize assets for one partition in process; fails the test when the run fails."""
    result = dg.materialize(assets, resources=resources, partition_key=partition, raise_on_error=True)
    assert result.success
    return result


def metadata_of(result: dg.ExecuteInProcessResult, asset_name: str) -> dict[str, Any]:
    """The materialization metadata of one asset, values unwrapped."""
    events = result.asset_materializations_for_node(asset_name)
    assert events, f"{asset_name} did not materialize"
    return {k: getattr(v, "value", v) for k, v in events[-1].metadata.items()}


def checks_of(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], bool]:
    """(asset, check) → passed, for every check evaluated in the run."""
    return {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}


def utc(text: str) -> dt.datetime:
    """An aware UTC datetime from ISO text."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.timezone.utc)
