"""Vectorised session synthesis: one numpy chunk of sessions at a time, and their meter curves.

A session's physics is closed-form so any source can evaluate it at any instant without simulation:
power P (W) until `plateau_s`, then an exponential taper with time constant `tau_s` (DC only) until
`charge_s`, then an idle/parking tail (power 0) until the cable is unplugged at `plug_s`. Cumulative energy
in Wh is `floor(E(t) / 3600)` with E in W·s, so every source (OCPP registers, CDRs, interval buckets) that
samples this one curve agrees to the Wh.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from data.fleet import EMSPS, HOME_OPERATOR, OPERATORS, Fleet
from data.timeutil import local_minute_table

CANCEL_RATE = 0.03
ROAMING_RATE = 0.45
DC_SHARE = 0.3
TAPER_RATIO = 6.0  # power at the end of a DC session is P / TAPER_RATIO
_EMSP_INDEX = {e.id: i for i, e in enumerate(EMSPS)}


@dataclass
class SessionChunk:
    """Parallel arrays describing `n` sessions (one row each); instants are epoch seconds UTC."""

    sid: np.ndarray  # global session number (stable across sources)
    op: np.ndarray
    evse: np.ndarray
    is_dc: np.ndarray
    start: np.ndarray
    plug_s: np.ndarray  # plugged-in duration (session end = start + plug_s)
    charge_s: np.ndarray  # end of energy transfer, seconds after start
    plateau_s: np.ndarray
    tau_s: np.ndarray
    power_w: np.ndarray
    energy_wh: np.ndarray
    cancelled: np.ndarray
    emsp: np.ndarray  # -1 = the operator's own (direct) customer
    soc0: np.ndarray  # state of charge at start, percent (DC only meaningful)
    capacity_wh: np.ndarray
    register0: np.ndarray  # meter register at start, Wh
    fold: np.ndarray
    customer: np.ndarray  # customer number within the eMSP (or the operator for direct customers)

    def __len__(self) -> int:
        return int(self.sid.shape[0])


def energy_ws(chunk: SessionChunk, i: int, t: np.ndarray) -> np.ndarray:
    """Cumulative energy in W·s of session `i` at `t` seconds after its start (array)."""
    tc = float(chunk.charge_s[i])
    t1 = float(chunk.plateau_s[i])
    p = float(chunk.power_w[i])
    tau = float(chunk.tau_s[i])
    tt = np.clip(np.asarray(t, dtype=np.float64), 0.0, tc)
    plateau = p * np.minimum(tt, t1)
    taper = p * tau * (1.0 - np.exp(-np.maximum(tt - t1, 0.0) / tau))
    return plateau + taper


def energy_wh_at(chunk: SessionChunk, i: int, t: np.ndarray) -> np.ndarray:
    """Cumulative Wh (integer) of session `i` at offsets `t`; equals `energy_wh[i]` from the end of charging."""
    t = np.asarray(t)
    total = int(chunk.energy_wh[i])
    wh = np.floor(energy_ws(chunk, i, t) / 3600.0).astype(np.int64)
    # Pin the end of charging to the session total so float noise can never disagree with it.
    return np.where(t >= int(chunk.charge_s[i]), total, np.minimum(wh, total))


def power_at(chunk: SessionChunk, i: int, t: np.ndarray) -> np.ndarray:
    """Instantaneous power in W of session `i` at offsets `t`."""
    tt = np.asarray(t, dtype=np.float64)
    p = float(chunk.power_w[i])
    t1 = float(chunk.plateau_s[i])
    tc = float(chunk.charge_s[i])
    tau = float(chunk.tau_s[i])
    out = np.where(tt < t1, p, p * np.exp(-np.maximum(tt - t1, 0.0) / tau))
    return np.where((tt >= 0) & (tt < tc), out, 0.0)


def _minutes(rng: np.random.Generator, mean_h: float, sd_h: float, n: int) -> np.ndarray:
    return rng.normal(mean_h * 60.0, sd_h * 60.0, n)


def generate_chunk(fleet: Fleet, day: dt.date, first_sid: int, n: int, rng: np.random.Generator) -> SessionChunk:
    """Synthesize `n` sessions plugging in on local `day` of their operator, numbered from `first_sid`."""
    shares = fleet.operator_shares
    op = rng.choice(len(OPERATORS), size=n, p=shares / shares.sum())
    home = op == HOME_OPERATOR
    is_dc = (rng.random(n) < DC_SHARE) & ~home

    # Arrival minute of the local day, by kind.
    u = rng.random(n)
    ac_minute = np.where(
        u < 0.45, _minutes(rng, 8.5, 1.0, n),
        np.where(u < 0.80, _minutes(rng, 17.5, 1.5, n), rng.uniform(7 * 60, 22 * 60, n)))
    ac_dwell_h = np.where(u < 0.45, rng.uniform(5.0, 9.0, n),
                          np.where(u < 0.80, rng.uniform(0.75, 4.0, n), rng.uniform(0.5, 3.0, n)))
    dc_minute = np.where(rng.random(n) < 0.5, _minutes(rng, 12.5, 2.5, n), _minutes(rng, 17.5, 1.8, n))
    home_minute = _minutes(rng, 19.0, 1.3, n)
    minute = np.where(home, home_minute, np.where(is_dc, dc_minute, ac_minute))
    minute = np.clip(np.round(minute), 0, 1439).astype(np.int64)
    fold = (rng.random(n) < 0.5).astype(np.int64)
    start = np.empty(n, dtype=np.int64)
    for o in range(len(OPERATORS)):
        sel = op == o
        table = local_minute_table(OPERATORS[o].time_zone, day)
        start[sel] = table[fold[sel], minute[sel]]
    start += rng.integers(0, 60, n)

    # EVSE per session from the operator's pool of the right current type.
    evse = np.empty(n, dtype=np.int64)
    for o in range(len(OPERATORS)):
        for dc in (False, True):
            sel = (op == o) & (is_dc == dc)
            if sel.any():
                pool = fleet.pool[(o, dc)]
                evse[sel] = pool[rng.integers(0, pool.shape[0], int(sel.sum()))]
    evse_power = fleet.evse_power_w[evse].astype(np.float64)

    # AC and home: constant plateau at min(EVSE, car onboard charger) until the energy need is met.
    car_ac = rng.choice(np.array([7_400.0, 11_000.0, 11_000.0, 22_000.0]), n)
    ac_power = np.minimum(evse_power, car_ac) * rng.uniform(0.95, 1.0, n)
    ac_need_ws = rng.uniform(4_000.0, 45_000.0, n) * 3600.0
    home_dwell_h = (_minutes(rng, 7.25, 0.75, n) + 1440.0 - minute) / 60.0
    dwell_s = np.where(home, home_dwell_h, ac_dwell_h) * 3600.0

    # DC: plateau to 55 % state of charge, then exponential taper to the target.
    capacity_wh = rng.uniform(40_000.0, 100_000.0, n)
    soc0 = rng.uniform(8.0, 50.0, n)
    target = np.where(rng.random(n) < 0.8, 80.0, 90.0)
    car_dc = rng.choice(np.array([50_000.0, 100_000.0, 150_000.0, 250_000.0]), n)
    dc_power = np.minimum(evse_power, car_dc)
    e1_ws = capacity_wh * np.maximum(0.0, 55.0 - soc0) / 100.0 * 3600.0
    e2_ws = capacity_wh * (target - np.maximum(soc0, 55.0)) / 100.0 * 3600.0
    dc_t1 = e1_ws / dc_power
    dc_tau = TAPER_RATIO / (TAPER_RATIO - 1.0) * e2_ws / dc_power
    dc_tc = dc_t1 + dc_tau * np.log(TAPER_RATIO)
    # One DC driver in five leaves before the target.
    dc_tc = np.where(rng.random(n) < 0.2, dc_tc * rng.uniform(0.5, 1.0, n), dc_tc)
    dc_idle = np.minimum(rng.exponential(240.0, n), 1_800.0)

    power = np.where(is_dc, dc_power, ac_power)
    plateau = np.where(is_dc, dc_t1, np.minimum(ac_need_ws / ac_power, dwell_s))
    tau = np.where(is_dc, np.maximum(dc_tau, 1.0), 1.0)
    charge = np.where(is_dc, dc_tc, plateau)
    plug = np.where(is_dc, dc_tc + dc_idle, np.maximum(dwell_s, charge))
    charge_s = np.maximum(np.floor(charge), 120).astype(np.int64)
    plateau = np.minimum(plateau, charge_s)
    plug_s = np.maximum(np.ceil(plug).astype(np.int64), charge_s)
    # An EV unplugged while still charging has no parking tail (not a few seconds of rounding residue).
    plug_s = np.where(plug_s - charge_s < 30, charge_s, plug_s)

    cancelled = (rng.random(n) < CANCEL_RATE) & ~home
    plug_s = np.where(cancelled, rng.integers(20, 110, n), plug_s)
    charge_s = np.where(cancelled, 0, charge_s)
    plateau = np.where(cancelled, 0.0, plateau)

    # Energy from the closed-form curve at the end of charging.
    t1 = np.minimum(plateau, charge_s)
    e_ws = power * t1 + power * tau * (1.0 - np.exp(-np.maximum(charge_s - t1, 0.0) / tau))
    energy_wh = np.where(cancelled, 0, np.floor(e_ws / 3600.0)).astype(np.int64)

    emsp = np.full(n, -1, dtype=np.int64)
    roam = (rng.random(n) < ROAMING_RATE) & ~home
    pick = rng.random(n)
    for o, operator in enumerate(OPERATORS):
        if not operator.supported_emps:
            continue
        choices = np.array([_EMSP_INDEX[e] for e in operator.supported_emps])
        sel = roam & (op == o)
        emsp[sel] = choices[(pick[sel] * len(choices)).astype(np.int64)]

    return SessionChunk(
        sid=np.arange(first_sid, first_sid + n, dtype=np.int64), op=op.astype(np.int64), evse=evse,
        is_dc=is_dc, start=start, plug_s=plug_s, charge_s=charge_s, plateau_s=plateau, tau_s=tau,
        power_w=power, energy_wh=energy_wh, cancelled=cancelled, emsp=emsp, soc0=soc0, capacity_wh=capacity_wh,
        register0=rng.integers(200_000, 90_000_000, n), fold=fold,
        # Home sessions belong to the charger's owner; public ones to a driver from a large pool.
        customer=np.where(home, fleet.evse_site[evse], rng.integers(0, 50_000, n)),
    )
