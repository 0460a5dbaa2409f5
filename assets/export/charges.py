"""Home charges of one settlement date as Charge API payloads (shapes in docs/charge-api.md).

Which sessions: those of the settlement date whose operator is a home-charging operator (`home_operator_ids`).
Each becomes one charge:

- `chargeExternalId` = the session's `session_ref` (the OCPP transaction id the charger and the interval
  files use), `chargePointExternalId` = the OCPP charge point id of its EVSE (`evses` reference table);
- `/dataProvider.charges.addWithIntervals` (the receiver's preferred form) when the session has metered
  30-minute clock-aligned intervals in `clock_aligned_consumption`: each interval clipped to the charge
  (the first and last are partial), kWh = whole Wh / 1000; the total is their sum, so the two always agree;
- `/dataProvider.charges.add` (start, end, total) when it has none, when they are estimates (a total
  spread at constant power is not interval data) or when they are not 30-minute intervals; the total is
  the session's energy rounded half-up to whole Wh.

A session that cannot be a charge is rejected with a reason code (quarantined by the asset): NO_CHARGE_REFERENCE
(no session_ref), NO_CHARGE_POINT (its EVSE has no charge point id), MISSING_SESSION_TIMES, CREDIT_NOT_EXPORTABLE
(a credit reverses another record; the API has no reversal), DUPLICATE_CHARGE_KEY (another session of the date has
the same chargeExternalId and chargePointExternalId: the receiver would drop it as a Duplicate).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import polars as pl

from assets.consumption.tables import CLOCK_ALIGNED, PARTITION as INTERVALS_PARTITION
from assets.export.log import Charge
from assets.quarantine import Rejection
from assets.reference.tables import EVSES
from assets.sessions.tables import SESSIONS
from resources.charge_api import ADD, ADD_WITH_INTERVALS
from resources.warehouse import WarehouseResource

INTERVAL = dt.timedelta(minutes=30)
SOURCE = "home_session"


@dataclass
class BuiltCharges:
    """The charges of one date, the sessions that could not become one, and why some went as totals."""

    sessions_in: int = 0
    charges: list[Charge] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    totals_only_reasons: dict[str, int] = field(default_factory=dict)


def utc_text(moment: dt.datetime) -> str:
    """ISO 8601 UTC with `Z`; milliseconds only when the instant has them."""
    moment = moment.astimezone(dt.timezone.utc)
    spec = "seconds" if moment.microsecond == 0 else "milliseconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def kwh(wh: int) -> float:
    """Whole Wh as kWh; the float of n/1000 prints as exactly three decimals or fewer."""
    return float(Decimal(wh) / 1000)


def canonical_json(value: object) -> str:
    """The payload text stored in the export log and hashed: fixed key order, no spaces."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _intervals(rows: list[dict], start: dt.datetime, end: dt.datetime) -> tuple[list[dict], int] | str:
    """Clipped 30-minute intervals and their Wh sum, or why the session must go as a total."""
    if not rows:
        return "no_intervals"
    if any(r["is_estimated"] for r in rows):
        return "estimated_intervals"
    if any(r["interval_minutes"] != 30 for r in rows):
        return "not_30_minute_intervals"
    out, total = [], 0
    for row in sorted(rows, key=lambda r: r["interval_start_utc"]):
        i_start = max(row["interval_start_utc"], start)
        i_end = min(row["interval_start_utc"] + INTERVAL, end)
        if i_end <= i_start:
            if row["energy_wh"]:
                return "interval_outside_session"
            continue  # an empty sliver at an edge carries nothing
        out.append({"startDateTime": utc_text(i_start), "endDateTime": utc_text(i_end),
                    "consumptionKwh": kwh(int(row["energy_wh"]))})
        total += int(row["energy_wh"])
    return (out, total) if out else "no_intervals"


def _reject(session: dict, code: str, reason: str) -> Rejection:
    raw = {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in session.items()}
    return Rejection(SOURCE, str(session["session_id"]), code, reason, canonical_json(raw))


def build_charges(warehouse: WarehouseResource, day: dt.date, home_operator_ids: Sequence[str]) -> BuiltCharges:
    """Every home session settling on `day` as a charge, or a rejection."""
    sessions = (warehouse.scan(SESSIONS.name, settlement_date=day)
                .filter(pl.col("operator_id").is_in(list(home_operator_ids)))
                .select("session_id", "session_ref", "location_id", "evse_uid", "start_utc", "end_utc", "energy_wh",
                        "is_credit")
                .sort("session_id").collect())
    points = (warehouse.scan(EVSES.name).select("location_id", "evse_uid", "charge_point_id")
              .unique(subset=["location_id", "evse_uid"], keep="first").collect())
    sessions = sessions.join(points, on=["location_id", "evse_uid"], how="left", maintain_order="left")
    intervals: dict[str, list[dict]] = {}
    if sessions.height:
        frame = (warehouse.scan(CLOCK_ALIGNED.name, **{INTERVALS_PARTITION: day})
                 .filter(pl.col("session_id").is_in(sessions["session_id"].implode()))
                 .select("session_id", "interval_start_utc", "interval_minutes", "energy_wh", "is_estimated").collect())
        for row in frame.iter_rows(named=True):
            intervals.setdefault(row["session_id"], []).append(row)

    built = BuiltCharges(sessions_in=sessions.height)
    seen: dict[tuple[str, str], str] = {}
    for session in sessions.iter_rows(named=True):
        if session["is_credit"]:
            built.rejections.append(_reject(session, "CREDIT_NOT_EXPORTABLE",
                                            "a credit reverses another record; the Charge API cannot reverse a charge"))
            continue
        if not session["session_ref"]:
            built.rejections.append(_reject(session, "NO_CHARGE_REFERENCE", "the session has no session_ref for chargeExternalId"))
            continue
        if not session["charge_point_id"]:
            built.rejections.append(_reject(session, "NO_CHARGE_POINT",
                                            f"EVSE {session['location_id']}/{session['evse_uid']} has no OCPP charge point id"))
            continue
        start, end = session["start_utc"], session["end_utc"]
        if start is None or end is None or end < start:
            built.rejections.append(_reject(session, "MISSING_SESSION_TIMES", "the session lacks a valid start and end"))
            continue
        charge: dict = {"chargeExternalId": str(session["session_ref"]),
                        "chargePointExternalId": str(session["charge_point_id"]),
                        "startDateTime": utc_text(start), "endDateTime": utc_text(end)}
        cut = _intervals(intervals.get(session["session_id"], []), start, end)
        if isinstance(cut, str):
            built.totals_only_reasons[cut] = built.totals_only_reasons.get(cut, 0) + 1
            wh = int(Decimal(str(session["energy_wh"] or 0)).to_integral_value(rounding=ROUND_HALF_UP))
            charge["consumptionKwh"] = kwh(wh)
            endpoint = ADD
        else:
            charge["consumptionKwh"] = kwh(cut[1])
            charge["intervals"] = cut[0]
            endpoint = ADD_WITH_INTERVALS
        key = (charge["chargeExternalId"], charge["chargePointExternalId"])
        if key in seen:  # the receiver would store the first and ignore this one as a Duplicate
            built.rejections.append(_reject(session, "DUPLICATE_CHARGE_KEY",
                                            f"chargeExternalId {key[0]} at {key[1]} is also session {seen[key]}"))
            continue
        seen[key] = session["session_id"]
        payload = canonical_json(charge)
        built.charges.append(Charge(charge["chargeExternalId"], charge["chargePointExternalId"], session["session_id"],
                                    day.isoformat(), endpoint, payload, hashlib.sha256(payload.encode()).hexdigest()))
    return built
