"""Electricity rates in the demo landing zone: one per operator, seed-001 shape, exact prices, deterministic."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from assets.ingest.common.pages import parse_page_name
from assets.ingest.platform.parse import parse_price_period_group, parse_rate
from data.config import GeneratorConfig
from data.electricity_rates import DEMO_RATES, NL_SOLAR_DAY, rate_for
from data.fleet import OPERATORS
from data.generate import run
from tariff_engine.consumption.electricity import parse_electricity_rate

RATE_DIR = "platform/electricity_rates"


def _landed(root) -> tuple[dict, dict[int, dict]]:
    """(rate listing body, rate id -> price-period body) of the first day, read back from the files."""
    day = "2026-10-24"
    listing = json.loads((root / RATE_DIR / day / "demo-page-0001.json").read_text(encoding="utf-8"))
    periods = {}
    for rate in listing["data"]:
        path = root / RATE_DIR / day / f"demo.rate-{rate['id']}-page-0001.json"
        periods[rate["id"]] = json.loads(path.read_text(encoding="utf-8"))
    return listing, periods


def _engine_rate(root, operator_id: str):
    listing, periods = _landed(root)
    rate = next(r for r in listing["data"] if r["operatorId"] == operator_id)
    return parse_electricity_rate(rate, periods[rate["id"]]["data"])


def _local(zone: str, *parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=ZoneInfo(zone))


def test_one_rate_per_operator_in_its_currency(small_run):
    root, _ = small_run
    listing, _ = _landed(root)
    by_operator = {r["operatorId"]: r for r in listing["data"]}
    assert sorted(by_operator) == sorted(op.id for op in OPERATORS)
    assert len(listing["data"]) == 4
    for op in OPERATORS:
        assert rate_for(op.id).currency == op.currency
        assert Decimal(str(by_operator[op.id]["taxPercentage"])) == Decimal(op.vat_percent)
    assert listing["meta"]["next_cursor"] is None and listing["links"]["next"] is None


def test_only_the_first_day_gets_a_snapshot(small_run):
    root, manifest = small_run
    assert sorted(p.name for p in (root / RATE_DIR).iterdir()) == ["2026-10-24"]
    files = sorted(p.name for p in (root / RATE_DIR / "2026-10-24").iterdir())
    assert files == ["demo-page-0001.json", "demo.rate-301-page-0001.json", "demo.rate-302-page-0001.json",
                     "demo.rate-303-page-0001.json", "demo.rate-304-page-0001.json"]
    assert manifest["counts"]["platform_electricity_rates"] == {
        "2026-10-24": {"pages": 5, "rates": 4, "price_period_groups": 4, "price_periods": 4}}


def test_pages_parse_with_the_pipeline_ingest(small_run):
    """The ingest's own parsers accept every record: rates, and price-period groups named by their page."""
    root, _ = small_run
    listing, periods = _landed(root)
    rows = [parse_rate(r) for r in listing["data"]]
    assert [(r["rate_id"], r["operator_id"], r["default_price"]) for r in rows] == [
        (301, "GB-VLT", Decimal("0.28")), (302, "NL-GRX", Decimal("0.3")),
        (303, "CA-MPL", Decimal("0.14")), (304, "GB-HMC", Decimal("0.245"))]
    period_rows = []
    for rate_id, body in periods.items():
        page = parse_page_name(f"demo.rate-{rate_id}-page-0001.json")
        assert (page.run, page.kind, page.ref) == ("demo", "rate", str(rate_id))
        for group in body["data"]:
            period_rows += parse_price_period_group(group, int(page.ref))
    assert [(r["rate_id"], r["week_day"], r["date"], r["starts_at"], r["ends_at"], r["price"]) for r in period_rows] == [
        (301, "any", None, "00:00", "07:00", Decimal("0.12")),
        (302, "any", None, "23:00", "07:00", Decimal("0.22")),
        (302, None, dt.date(2026, 10, 25), "06:00", "16:00", Decimal("0.15")),
        (304, "any", None, "23:30", "05:30", Decimal("0.075"))]
    assert periods[303] == {"data": []}


def test_slot_edges_sit_on_the_half_hour():
    """Rate edges on the 30-minute grid, so one price holds for every clock-aligned interval."""
    for rate in DEMO_RATES:
        for slots in (*rate.week_days.values(), *rate.dates.values()):
            for slot in slots:
                for text in (slot.starts_at, slot.ends_at):
                    assert int(text[3:]) % 30 == 0, (rate.rate_id, text)
        assert "any" not in rate.week_days or len(rate.week_days) == 1


@pytest.mark.parametrize(("operator_id", "local", "price"), [
    ("GB-VLT", ("Europe/London", 2026, 10, 24, 3, 0), "0.12"),    # night
    ("GB-VLT", ("Europe/London", 2026, 10, 24, 6, 30), "0.12"),   # last night slot
    ("GB-VLT", ("Europe/London", 2026, 10, 24, 7, 0), "0.28"),    # end is exclusive: day price
    ("NL-GRX", ("Europe/Amsterdam", 2026, 10, 24, 23, 30), "0.22"),  # night wraps midnight
    ("NL-GRX", ("Europe/Amsterdam", 2026, 10, 24, 12, 0), "0.3"),    # no period: default
    ("NL-GRX", ("Europe/Amsterdam", 2026, 10, 25, 6, 30), "0.15"),   # date beats the night slot
    ("NL-GRX", ("Europe/Amsterdam", 2026, 10, 25, 12, 0), "0.15"),   # date beats the default
    ("NL-GRX", ("Europe/Amsterdam", 2026, 10, 25, 5, 30), "0.22"),   # date slot not started: week day
    ("NL-GRX", ("Europe/Amsterdam", 2026, 10, 25, 16, 0), "0.3"),    # date slot over: default
    ("CA-MPL", ("America/Toronto", 2026, 10, 24, 3, 0), "0.14"),
    ("CA-MPL", ("America/Toronto", 2026, 10, 24, 18, 0), "0.14"),
    ("GB-HMC", ("Europe/London", 2026, 10, 24, 23, 30), "0.075"),
    ("GB-HMC", ("Europe/London", 2026, 10, 25, 5, 0), "0.075"),
    ("GB-HMC", ("Europe/London", 2026, 10, 25, 5, 30), "0.245"),
])
def test_landed_rates_price_like_the_contracts(small_run, operator_id, local, price):
    root, _ = small_run
    assert _engine_rate(root, operator_id).price_at(_local(*local)) == Decimal(price)


def test_nl_date_period_is_inside_the_default_window():
    assert NL_SOLAR_DAY == "2026-10-25"
    assert NL_SOLAR_DAY in rate_for("NL-GRX").dates


def test_rate_pages_are_deterministic_and_seed_independent(tmp_path):
    """Same flags give the same bytes; the contract prices do not depend on the random seed."""
    digests = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        out = tmp_path / name
        run(GeneratorConfig(out=out, seed=seed, days=1, sessions_per_day=5, sources=frozenset({"platform"})))
        digests.append(hashlib.sha256(b"".join(
            p.name.encode() + p.read_bytes() for p in sorted((out / RATE_DIR).rglob("*.json")))).hexdigest())
    assert digests[0] == digests[1] == digests[2]


def test_rates_come_with_the_platform_source(tmp_path):
    manifest = run(GeneratorConfig(out=tmp_path, days=1, sessions_per_day=5, sources=frozenset({"eevion"})))
    assert not (tmp_path / "platform").exists()
    assert "platform_electricity_rates" not in manifest["counts"]


def test_rates_land_on_the_chosen_first_day(tmp_path):
    manifest = run(GeneratorConfig(out=tmp_path, start=dt.date(2026, 10, 25), days=2, sessions_per_day=5,
                                   sources=frozenset({"platform"})))
    assert sorted(p.name for p in (tmp_path / RATE_DIR).iterdir()) == ["2026-10-25"]
    assert list(manifest["counts"]["platform_electricity_rates"]) == ["2026-10-25"]
