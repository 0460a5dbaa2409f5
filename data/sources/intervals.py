"""30-minute interval charges from the home-charging provider (seed 000 `addWithIntervals` request shape).

Seed 000 names the endpoint, the keys `chargeExternalId`/`chargePointExternalId` and the 30-minute intervals,
but not the body schema; the shape below is our reading and is documented in `data/FORMATS.md`:
`{"charges": [{"chargeExternalId", "chargePointExternalId", "startDateTime", "endDateTime", "consumptionKwh",
"intervals": [{"startDateTime", "endDateTime", "consumptionKwh"}]}]}`. Intervals are clock-aligned half hours
of the charger's local clock (Europe/London: whole-hour offsets, so also UTC half hours); the first and last are
partial. Interval kWh carry exact Wh (3 decimals) and sum exactly to the charge total.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from data.context import Fault, RunContext
from data.fleet import OPERATORS
from data.identity import ocpp16_transaction_id
from data.landing import Landing, Pager
from data.sessions import SessionChunk, energy_wh_at
from data.timeutil import iso_s, utc_date

CHARGES_PER_FILE = 500
PROVIDER = "homecharge"


def _kwh(wh: int) -> float:
    return wh / 1000


class IntervalWriter:
    """Daily batches of interval charges, delivered the morning after the charge ends."""

    def __init__(self, ctx: RunContext, landing: Landing) -> None:
        self.ctx = ctx
        self.files = Pager(landing, CHARGES_PER_FILE,
                           lambda d, p: f"interval_charges/{d}/{PROVIDER}-{p:04d}.json",
                           lambda items, d, p, has_next: {"charges": items})

    def emit_session(self, chunk: SessionChunk, i: int, fault: Fault) -> None:
        """Add the interval charge of home session `i`."""
        op = OPERATORS[int(chunk.op[i])]
        if op.backend != "interval":
            return
        ctx = self.ctx
        start = int(chunk.start[i])
        end = start + int(chunk.plug_s[i])
        edges = [start] + list(range((start // 1800 + 1) * 1800, end, 1800)) + [end]
        wh = energy_wh_at(chunk, i, np.array(edges, dtype=np.int64) - start).tolist()
        intervals = [{"startDateTime": iso_s(a), "endDateTime": iso_s(b), "consumptionKwh": _kwh(w1 - w0)}
                     for a, b, w0, w1 in zip(edges[:-1], edges[1:], wh[:-1], wh[1:])]
        tx = str(ocpp16_transaction_id(int(chunk.sid[i])))
        charge: dict[str, Any] = {
            "chargeExternalId": tx,
            "chargePointExternalId": ctx.fleet.charge_point_id(int(chunk.evse[i])),
            "startDateTime": iso_s(start), "endDateTime": iso_s(end),
            "consumptionKwh": _kwh(int(chunk.energy_wh[i])), "intervals": intervals,
        }
        delivered = (end // 86_400 + 1) * 86_400 + 2 * 3600  # next day's 02:00 UTC batch
        if fault == ("late_arrival", "interval_charges"):
            delivered += 86_400 * int(ctx.rng.integers(1, 3))
        day = utc_date(delivered).isoformat()
        self.files.add(day, charge)
        tally = ctx.tally
        tally.count("interval_charges", day, "charges")
        tally.count("interval_charges", day, "intervals", len(intervals))
        tally.source_energy_wh["interval_charges"][op.currency] += int(chunk.energy_wh[i])
        if fault == ("late_arrival", "interval_charges"):
            tally.fault("late_arrival", "interval_charges", session=f"S{int(chunk.sid[i]):09d}",
                        charge_external_id=tx, landing_date=day)

    def close(self) -> None:
        """Write the last batch file of every day."""
        self.files.close()
