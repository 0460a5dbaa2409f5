"""Exact CPO prices for the assigned tariffs, and the session physics every source samples."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np

from data.fleet import HOME_OPERATOR, OPERATORS, Fleet
from data.pricing import eevion_cost, ocpi_totals, platform_breakdown, sum_lines
from data.sessions import energy_wh_at, generate_chunk, power_at
from data.tariffs import by_id

TARIFFS = by_id()


def test_ocpi_totals_round_per_component():
    totals = ocpi_totals(TARIFFS["ocpi:GB-VLT-AC-STD"], energy_wh=25_351, charging_s=12_730, parking_s=18_090)
    # 25.351 kWh x 0.375 = 9.506625 -> 9.51; parking billed per started minute: 302 min = 5.0333 h x 2.50 = 12.58.
    assert totals["energy_excl"] == Decimal("9.51") and totals["energy_incl"] == Decimal("11.41")
    assert totals["parking_excl"] == Decimal("12.58") and totals["parking_incl"] == Decimal("15.10")
    assert totals["total_excl"] == Decimal("22.09") and totals["total_incl"] == Decimal("26.51")


def test_ocpi_flat_and_time_components():
    totals = ocpi_totals(TARIFFS["ocpi:NL-GRX-AC"], energy_wh=10_000, charging_s=3_601, parking_s=0)
    assert totals["energy_excl"] == Decimal("3.30")
    assert totals["time_excl"] == Decimal("0.51")  # 61 started minutes = 1.016667 h x 0.50
    dc = ocpi_totals(TARIFFS["ocpi:NL-GRX-DC"], energy_wh=40_000, charging_s=1_500, parking_s=120)
    assert dc["fixed_excl"] == Decimal("0.29") and dc["energy_excl"] == Decimal("19.60")
    assert dc["total_incl"] == Decimal("0.35") + Decimal("23.72")


def test_platform_breakdown_lines():
    charging, idle = platform_breakdown(TARIFFS["platform:201"], energy_wh=17_323, charging_s=8_782,
                                        idle_s=2_400, currency="EUR", tax=21)
    assert [line["type"] for line in charging] == ["connection", "energy", "charging_time"]
    assert [line["price"]["withTax"] for line in charging] == [0.5, 7.28, 1.47]
    assert charging[1]["price"]["withoutTax"] == 6.02
    # 40 min idle, 30 min grace -> 10 min at 0.10.
    assert idle[0]["quantity"] == 10 and idle[0]["price"]["withTax"] == 1.0
    assert sum_lines(charging + idle) == {"withTax": 10.25, "withoutTax": 8.47}


def test_eevion_cost_with_idle_grace():
    gross, net = eevion_cost(TARIFFS["eevion:6a0e0000000000000000ac01"], energy_wh=10_000, idle_s=1_800, tax=13)
    assert gross == Decimal("3.80") and net == Decimal("3.36")


def test_session_curves_are_consistent():
    fleet = Fleet(1, 2_000)
    chunk = generate_chunk(fleet, dt.date(2026, 10, 24), 0, 3_000, np.random.default_rng(5))
    for i in range(0, 3_000, 37):
        t = np.arange(0, int(chunk.plug_s[i]) + 60, 60)
        wh = energy_wh_at(chunk, i, t)
        assert (np.diff(wh) >= 0).all()
        assert wh[0] == 0 and wh[-1] == chunk.energy_wh[i]
        p = power_at(chunk, i, t)
        assert (p[t >= chunk.charge_s[i]] == 0).all()
        if chunk.is_dc[i] and chunk.charge_s[i] > chunk.plateau_s[i] + 300:
            taper = p[(t > chunk.plateau_s[i]) & (t < chunk.charge_s[i])]
            assert (np.diff(taper) <= 0).all() and taper[-1] < taper[0]
    assert (chunk.energy_wh[chunk.cancelled] == 0).all()
    assert 0.01 < chunk.cancelled.mean() < 0.06


def test_arrival_profiles():
    fleet = Fleet(1, 2_000)
    chunk = generate_chunk(fleet, dt.date(2026, 10, 21), 0, 20_000, np.random.default_rng(9))
    hours = np.array([dt.datetime.fromtimestamp(int(s), ZoneInfo(OPERATORS[int(o)].time_zone)).hour
                      for s, o in zip(chunk.start, chunk.op)])
    home = chunk.op == HOME_OPERATOR
    public_ac = ~home & ~chunk.is_dc
    # Home charging starts in the evening and runs overnight; public AC has a morning commuter peak.
    assert ((hours[home] >= 16) & (hours[home] <= 23)).mean() > 0.9
    assert np.median(chunk.plug_s[home]) > 8 * 3600
    morning = ((hours[public_ac] >= 7) & (hours[public_ac] <= 9)).mean()
    night = ((hours[public_ac] >= 1) & (hours[public_ac] <= 4)).mean()
    assert morning > 0.3 and night < 0.01
    # DC sessions are short; AC sessions keep the car plugged in after charging (idle tail).
    assert np.median(chunk.plug_s[chunk.is_dc & ~chunk.cancelled]) < 3_600
    tail = chunk.plug_s - chunk.charge_s
    assert (tail[public_ac & ~chunk.cancelled] > 600).mean() > 0.5
