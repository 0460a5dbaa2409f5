"""Benchmark of the Charge API export; prints throughputs and ratios measured in one run.

The loopback stand-in (seed 000) runs in a child process of its own. Charges are home charges of the demo's
shape: a 10-hour overnight charge in 21 half-hour intervals each.

1. Export: `Exporter` (batches of 100, each logged as pending in the SQLite export log before it is sent and
   resolved after) sends N new charges: charges/s, and the ratio to a bare httpx loop posting the same batches
   with no log (the cost of crash safety).
2. Re-run: the same N charges again, all already delivered: charges/s checked and skipped (no request).
3. Bisection: one refused charge in a batch of 100: requests needed and the time to isolate it.

    .venv/bin/python -m bench.bench_export [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from assets.export.charges import canonical_json, kwh, utc_text
from assets.export.deliver import Exporter
from assets.export.log import Charge, ExportLog
from resources.charge_api import ADD_WITH_INTERVALS, ChargeApiResource

CLIENT_ID = "bench-client"
START = dt.datetime(2026, 10, 24, 20, 0, tzinfo=dt.timezone.utc)


def charges(count: int, prefix: str = "") -> list[Charge]:
    """`count` overnight charges (20:00 + 10 h 10 min, 21 intervals, 7.4 kW)."""
    out = []
    for n in range(count):
        start = START + dt.timedelta(seconds=n % 600)
        end = start + dt.timedelta(hours=10, minutes=10)
        edges = [start] + [START + dt.timedelta(minutes=30 * k) for k in range(1, 21)] + [end]
        intervals = [{"startDateTime": utc_text(a), "endDateTime": utc_text(b), "consumptionKwh": kwh(1850 + k)}
                     for k, (a, b) in enumerate(zip(edges, edges[1:]))]
        body = {"chargeExternalId": f"{prefix}{100000 + n}", "chargePointExternalId": f"CP-HMC-{n % 5000:06d}",
                "startDateTime": utc_text(start), "endDateTime": utc_text(end),
                "consumptionKwh": kwh(sum(1850 + k for k in range(len(intervals)))), "intervals": intervals}
        payload = canonical_json(body)
        out.append(Charge(body["chargeExternalId"], body["chargePointExternalId"], f"bench:{n}", "2026-10-24",
                          ADD_WITH_INTERVALS, payload, hashlib.sha256(payload.encode()).hexdigest()))
    return out


def start_standin(secret: str) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "CHARGE_API_CLIENT_ID": CLIENT_ID, "CHARGE_API_CLIENT_SECRET": secret}
    child = subprocess.Popen([sys.executable, "-m", "tests.standins.charge_api", "--port", "0"], env=env,
                             stdout=subprocess.PIPE, text=True)
    line = child.stdout.readline()
    match = re.search(r"(http://\S+)", line)
    if not match:
        child.kill()
        raise SystemExit(f"stand-in did not start: {line!r}")
    return child, match.group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 charges instead of 20,000")
    args = parser.parse_args()
    count = 2_000 if args.quick else 20_000
    secret = secrets.token_urlsafe(24)
    child, url = start_standin(secret)
    try:
        token_url = f"{url}/oauth2/ausa4dehw4Wb8CLSd417/v1/token"
        api = ChargeApiResource(token_url=token_url, base_url=url, client_id=CLIENT_ID, client_secret=secret)
        batch = charges(count)
        with tempfile.TemporaryDirectory() as tmp, ExportLog(Path(tmp)) as log:
            exporter = Exporter(api, log, batch_size=100)
            started = time.perf_counter()
            outcome = exporter.export("2026-10-24", batch)
            export_s = time.perf_counter() - started
            assert outcome.sent == count and outcome.pending == 0, outcome

            started = time.perf_counter()
            again = exporter.export("2026-10-24", batch)
            rerun_s = time.perf_counter() - started
            assert again.already_delivered == count and again.requests == 0

            bare_batch = charges(count, prefix="bare-")
            token = api.access_token()
            started = time.perf_counter()
            with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
                for i in range(0, count, 100):
                    reply = client.post(url + ADD_WITH_INTERVALS, json={"charges": [c.body() for c in bare_batch[i:i + 100]]})
                    assert reply.status_code == 200
            bare_s = time.perf_counter() - started

            bad = charges(100, prefix="bisect-")
            broken = bad[37]
            body = broken.body() | {"consumptionKwh": 0.001}  # intervals no longer sum to the total
            payload = canonical_json(body)
            bad[37] = Charge(broken.charge_external_id, broken.charge_point_external_id, broken.session_id,
                             broken.settlement_date, broken.endpoint, payload, hashlib.sha256(payload.encode()).hexdigest())
            started = time.perf_counter()
            bisected = exporter.export("2026-10-24", bad)
            bisect_s = time.perf_counter() - started
            assert bisected.sent == 99 and bisected.rejected == 1
        api.close()
    finally:
        child.terminate()
        child.wait(timeout=10)

    print(f"charges: {count:,} (21 intervals each), batches of 100, stand-in in its own process")
    print(f"export with the export log:   {count / export_s:>10,.0f} charges/s ({export_s:.2f} s)")
    print(f"bare httpx posts, no log:     {count / bare_s:>10,.0f} charges/s ({bare_s:.2f} s)")
    print(f"ratio export / bare:          {bare_s / export_s:>10.2f} (1.00 = the log costs nothing)")
    print(f"re-run, all delivered:        {count / rerun_s:>10,.0f} charges/s checked, 0 requests")
    print(f"bisection of 1 bad in 100:    {bisected.requests} requests, {bisect_s * 1000:.0f} ms, 99 delivered")


if __name__ == "__main__":
    main()
