"""Secrets never leak: not into the landing zone, the warehouse, the registers, logs, metadata or errors."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from assets.ingest.eevion.assets import eevion_session_pages, eevion_sessions
from assets.ingest.platform.fetch import FETCH_ASSETS
from assets.ingest.platform.ingest import PARSE_ASSETS
from resources.charge_api import ChargeApiResource
from resources.eevion_webhook import EevionWebhookReceiver
from resources.platform_api import ApiError
from tests.apis.conftest import CHARGE_CLIENT_SECRET, LANDING_DAY, SECRETS, WEBHOOK_TOKEN, run_assets, utc
from tests.standins import platform_data
from tests.standins.base import Fault
from tests.standins.charge_api import ChargeApiStandin


def _files_containing(root: Path, secrets: tuple[str, ...]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path}: {s[:6]}…" for s in secrets if s.encode() in data]
    return hits


def test_no_secret_anywhere(platform_server, platform_api, eevion_server, eevion_api, reference_warehouse,
                            tmp_landing, tmp_path, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    platform_server.load_sample(cdrs=120, sessions=3)
    # faults make the clients log their retries, the paths most likely to leak a header
    platform_server.inject(Fault(status=503, body={"message": "down"}),
                           Fault(status=429, body={"message": "slow down"}, headers={"Retry-After": "0"}))
    eevion_server.load_sample(4)
    receiver = EevionWebhookReceiver(tmp_landing, WEBHOOK_TOKEN, clock=lambda: utc(f"{LANDING_DAY}T09:00:00Z")).start()
    try:
        session = eevion_server.sessions[0]["sessionId"]
        assert eevion_server.fire_session_complete(receiver.webhook_url(), session).status_code == 200
        assert httpx.post(f"{receiver.url}/eevion/wrong/session-complete", json={}).status_code == 404
    finally:
        receiver.stop()
    resources = {"platform_api": platform_api, "eevion_api": eevion_api, "warehouse": reference_warehouse,
                 "landing": tmp_landing}
    result = run_assets([*FETCH_ASSETS, *PARSE_ASSETS, eevion_session_pages, eevion_sessions], resources)

    with ChargeApiStandin("ledger-client", CHARGE_CLIENT_SECRET) as charge_server:
        client = ChargeApiResource(token_url=charge_server.token_url, base_url=charge_server.url,
                                   client_id="ledger-client", client_secret=CHARGE_CLIENT_SECRET)
        client.access_token()
        refused = ChargeApiResource(token_url=charge_server.token_url, base_url=charge_server.url,
                                    client_id="ledger-client", client_secret=CHARGE_CLIENT_SECRET + "x")
        with pytest.raises(ApiError) as failure:
            refused.access_token()

    assert _files_containing(Path(tmp_landing.root), SECRETS) == []
    assert _files_containing(Path(reference_warehouse.root), SECRETS) == []  # tables and the watermark register
    logged = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    assert logged and not [s for s in SECRETS if s in logged]
    events = "\n".join(repr(e) for e in result.all_events)
    assert "ASSET_MATERIALIZATION" in events and not [s for s in SECRETS if s in events]
    assert not [s for s in SECRETS if s in str(failure.value)]
    assert len(list((Path(tmp_landing.root) / "platform").rglob("*.json"))) >= 5
