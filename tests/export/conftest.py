"""Fixtures of the Charge API export tests: a loopback stand-in (seed 000), a client and charges."""

from __future__ import annotations

import hashlib
import json

import pytest

from assets.export.charges import canonical_json
from assets.export.log import Charge
from resources.charge_api import ADD, ADD_WITH_INTERVALS, ChargeApiResource
from tests.standins.charge_api import ChargeApiStandin

CLIENT_ID = "home-ledger-client"
# Built at run time so the literal never sits in the source next to the assertions that grep for it.
CLIENT_SECRET = "cs-" + hashlib.sha256(b"charge api export test").hexdigest()[:24]


@pytest.fixture
def server():
    with ChargeApiStandin(CLIENT_ID, CLIENT_SECRET) as standin:
        yield standin


def make_client(server: ChargeApiStandin, slept: list[float] | None = None, **overrides) -> ChargeApiResource:
    """A client of the stand-in whose sleeps are recorded in `slept` instead of slept."""
    settings = {"token_url": server.token_url, "base_url": server.url, "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET, "max_retries": 6, "backoff_seconds": 0.01,
                "max_backoff_seconds": 30.0} | overrides
    client = ChargeApiResource(**settings)
    client._sleep = (slept if slept is not None else []).append
    return client


def make_charge(n: int, *, intervals: bool = True, point: str = "CP-HMC-000072", kwh_total: str | None = None,
                day: str = "2026-10-24") -> Charge:
    """Charge n: 20:00–21:10 UTC on `day`, three intervals of 2.000, 2.500 and 0.750 kWh (5.25 kWh)."""
    body = {"chargeExternalId": str(1000 + n), "chargePointExternalId": point,
            "startDateTime": f"{day}T20:00:00Z", "endDateTime": f"{day}T21:10:00Z",
            "consumptionKwh": float(kwh_total or "5.25")}
    if intervals:
        body["intervals"] = [
            {"startDateTime": f"{day}T20:00:00Z", "endDateTime": f"{day}T20:30:00Z", "consumptionKwh": 2.0},
            {"startDateTime": f"{day}T20:30:00Z", "endDateTime": f"{day}T21:00:00Z", "consumptionKwh": 2.5},
            {"startDateTime": f"{day}T21:00:00Z", "endDateTime": f"{day}T21:10:00Z", "consumptionKwh": 0.75},
        ]
    payload = canonical_json(body)
    return Charge(body["chargeExternalId"], point, f"ocpp:{point}:{1000 + n}", day,
                  ADD_WITH_INTERVALS if intervals else ADD, payload, hashlib.sha256(payload.encode()).hexdigest())


def stored(server: ChargeApiStandin) -> dict[tuple[str, str], str]:
    """What the receiver stored, as canonical JSON per key."""
    return {key: json.dumps(value, separators=(",", ":")) for key, value in server.received.items()}
