"""End to end: the demo generator's electricity rates price every operator's clock intervals.

A tiny fleet starting on 2026-10-25 (the NL rate's special date) goes through `python -m pipelines.demo`;
the interval costs read back from the catalog are recomputed here from the landed rate pages with a
lookup written independently of the engine (date period, else `any` period, else default price).
"""

import datetime as dt
import json
import os
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
FIRST_DAY = "2026-10-25"
OPERATORS = ("CA-MPL", "GB-HMC", "GB-VLT", "NL-GRX")


def _run(args: list[str], env: dict) -> None:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    base = tmp_path_factory.mktemp("electricity_demo")
    landing = base / "landing"
    env = dict(os.environ, CHARGELEDGER_LANDING=str(landing), CHARGELEDGER_WAREHOUSE=str(base / "warehouse"),
               DAGSTER_HOME=str(base / "dagster_home"))
    (base / "dagster_home").mkdir()
    (base / "dagster_home" / "dagster.yaml").write_text((ROOT / "pipelines" / "dagster.yaml").read_text())
    _run(["-m", "data.generate", "--out", str(landing), "--seed", "5", "--start", FIRST_DAY, "--days", "1",
          "--sessions-per-day", "60"], env)
    _run(["-m", "pipelines.demo"], env)
    folder = landing / "platform" / "electricity_rates" / FIRST_DAY
    rates = {str(r["id"]): r for r in json.loads((folder / "demo-page-0001.json").read_text())["data"]}
    for rate_id, rate in rates.items():
        rate["groups"] = json.loads((folder / f"demo.rate-{rate_id}-page-0001.json").read_text())["data"]
    con = duckdb.connect(str(base / "warehouse" / "chargeledger.duckdb"), read_only=True)
    yield con, rates
    con.close()


def _minute(text: str) -> int:
    return int(text[:2]) * 60 + int(text[3:])


def _covers(period: dict, minute: int) -> bool:
    start, end = _minute(period["startsAt"]), _minute(period["endsAt"]) or 1440
    return start <= minute < end if start < end else (minute >= start or minute < end)


def _price(rate: dict, local: dt.datetime) -> Decimal:
    """The rate's price at a local time: the date's periods first, then the `any` periods, then the default."""
    minute = local.hour * 60 + local.minute
    for key, value in (("date", local.date().isoformat()), ("weekDay", "any")):
        for group in rate["groups"]:
            if group.get(key) == value:
                for period in group["periods"]:
                    if _covers(period, minute):
                        return Decimal(str(period["price"]))
    return Decimal(str(rate["defaultPrice"]))


def _cost(energy_wh: int, price: Decimal) -> Decimal:
    # 4 decimals, half-up: the precision of the electricity_cost column
    return (Decimal(energy_wh) * price / 1000).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _priced_intervals(con):
    return con.execute(
        "select e.session_id, e.interval_start_utc, e.energy_wh, e.rate_id, e.electricity_price_per_kwh, "
        "e.electricity_cost, s.time_zone, s.operator_id from electricity_cost e join sessions s using (session_id) "
        "where e.electricity_cost is not null order by e.session_id, e.interval_start_utc").fetchall()


def test_one_nl_interval_by_hand(demo):
    """An NL interval starting inside the 2026-10-25 date period costs energy x 0.15 EUR/kWh, not the night
    (0.22) or default (0.30) price."""
    con, rates = demo
    amsterdam = ZoneInfo("Europe/Amsterdam")
    nl = [r for r in _priced_intervals(con) if r[7] == "NL-GRX"
          and r[1].astimezone(amsterdam).date() == dt.date(2026, 10, 25) and 6 <= r[1].astimezone(amsterdam).hour < 16]
    assert nl, "no NL interval inside the date period"
    _, start, energy_wh, rate_id, price, cost, _, _ = nl[0]
    assert rates[rate_id]["operatorId"] == "NL-GRX"
    assert price == Decimal("0.15")
    assert energy_wh > 0
    assert cost == (Decimal(energy_wh) * Decimal("0.15") / 1000).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def test_every_interval_costs_energy_times_the_price_it_starts_in(demo):
    con, rates = demo
    rows = _priced_intervals(con)
    assert len(rows) > 100
    seen_prices = set()
    for session_id, start, energy_wh, rate_id, price, cost, zone, operator_id in rows:
        rate = rates[rate_id]
        assert rate["operatorId"] == operator_id, session_id
        expected = _price(rate, start.astimezone(ZoneInfo(zone)))
        assert (price, cost) == (expected, _cost(energy_wh, expected)), (session_id, start)
        seen_prices.add((operator_id, expected))
    # Default, `any` and date prices all occur on this day.
    assert {("NL-GRX", Decimal("0.15")), ("NL-GRX", Decimal("0.3")), ("GB-HMC", Decimal("0.075")),
            ("GB-HMC", Decimal("0.245")), ("GB-VLT", Decimal("0.28")), ("CA-MPL", Decimal("0.14"))} <= seen_prices


def test_every_operator_with_a_rate_has_costed_sessions(demo):
    con, _ = demo
    rows = con.execute(
        "select s.operator_id, count(*), sum(c.unpriced_intervals), sum(c.electricity_cost), "
        "count(*) filter (where c.energy_wh > 0 and c.electricity_cost = 0) from session_electricity_cost c "
        "join sessions s using (session_id) where s.operator_id is not null group by 1 order by 1").fetchall()
    assert [r[0] for r in rows] == list(OPERATORS)
    for operator_id, sessions, unpriced, total, free_energy in rows:
        assert unpriced == 0, operator_id
        # every session that drew energy has a positive cost (cancelled ones cost exactly 0)
        assert free_energy == 0 and total > 0 and sessions > 0, operator_id
    # A fully priced session's cost is the sum of its interval costs, exactly.
    assert con.execute(
        "select count(*) from session_electricity_cost c where c.unpriced_intervals = 0 and c.electricity_cost "
        "is distinct from (select sum(e.electricity_cost) from electricity_cost e where e.session_id = c.session_id)"
    ).fetchone()[0] == 0


def test_unpriced_intervals_only_lack_an_operator(demo):
    """Whatever stays unpriced has a reason code and no operator to match a rate to (sessions whose source
    does not name their operator)."""
    con, _ = demo
    rows = con.execute(
        "select e.unpriced_reason, s.operator_id is null, count(*) from electricity_cost e "
        "join sessions s using (session_id) where e.electricity_cost is null group by all").fetchall()
    assert all(reason == "NO_RATE_FOR_OPERATOR" and no_operator for reason, no_operator, _ in rows), rows
