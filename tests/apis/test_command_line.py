"""The stand-ins and the webhook receiver start from the command line and serve real HTTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.apis.conftest import EEVION_KEY, PLATFORM_TOKEN, WEBHOOK_TOKEN

ROOT = Path(__file__).resolve().parents[2]


def _start(module: str, env: dict[str, str], *args: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", module, "--port", "0", *args], cwd=ROOT,
                               env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
    assert match, f"{module} printed {line!r}"
    return process, match.group(1)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=10)


def test_platform_and_eevion_standins_from_the_command_line():
    platform, url = _start("tests.standins.platform", {"PLATFORM_API_TOKEN": PLATFORM_TOKEN}, "--cdrs", "3")
    try:
        page = httpx.get(f"{url}/public-api/resources/cdrs/v2.0?cursor=", headers={"Authorization": f"Bearer {PLATFORM_TOKEN}"})
        assert page.status_code == 200 and len(page.json()["data"]) == 3
    finally:
        _stop(platform)
    eevion, url = _start("tests.standins.eevion", {"EEVION_API_KEY": EEVION_KEY}, "--sessions", "4")
    try:
        listing = httpx.post(f"{url}/api/eevion/session", json={}, headers={"Authorization": f"Bearer {EEVION_KEY}"})
        assert listing.status_code == 200 and len(listing.json()) == 4
    finally:
        _stop(eevion)


def test_webhook_receiver_from_the_command_line(tmp_path):
    receiver, url = _start("resources.eevion_webhook", {"EEVION_WEBHOOK_TOKEN": WEBHOOK_TOKEN},
                           "--landing", str(tmp_path / "landing"))
    try:
        answer = httpx.post(f"{url}/eevion/{WEBHOOK_TOKEN}/session-complete", json={"sessionId": "s-1"})
        assert answer.status_code == 200
    finally:
        _stop(receiver)
    stored = list((tmp_path / "landing" / "eevion" / "webhooks").rglob("*.json"))
    assert [p.name.split("-")[0] for p in stored] == ["s"] and stored[0].read_bytes() == b'{"sessionId":"s-1"}'
