"""Monthly invoicing benchmark: partner settlement, invoice drafting, register issue and PDF rendering.

Builds a synthetic month in memory (no warehouse): N sessions, 45 % of them roaming sessions of four eMSPs
under contracts, the rest direct customers with about three sessions each, every session priced with two
dimensions at 20 %. Prints each step's throughput, measured in one run, and what it means for a
1,000,000-session day (30 M sessions a month). The steps are pure Python over Decimal per session (see the
report); the numbers show where a vectorised rewrite would pay off.

Usage: python -m bench.bench_invoicing [--sessions 200000] [--pdfs 300] [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl

from assets.invoicing import register
from assets.invoicing.drafting import draft_month
from assets.invoicing.pdf import render_pdf
from assets.partner_settlement.compute import settle_month
from assets.partner_settlement.contracts import accept_contracts
from data.sources.contracts import demo_contracts

MONTH_SESSIONS_AT_SCALE = 30_000_000


def synthetic_month(n: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    first = dt.date(2026, 10, 1)
    days = rng.integers(0, 31, n)
    roaming = rng.random(n) < 0.45
    emsps = np.array(["NL-TNM", "BE-PLG", "GB-OCT", "FR-RMG"])[rng.integers(0, 4, n)]
    energy = rng.integers(1_000, 60_000, n).astype(float)
    ids = [f"ocpi:GB-VLT:{i:09d}" for i in range(n)]
    start = [dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc) + dt.timedelta(days=int(d), minutes=int(m))
             for d, m in zip(days, rng.integers(0, 1400, n))]
    sessions = pl.DataFrame({
        "session_id": ids, "source": "ocpi_cdr", "source_id": [i[-9:] for i in ids], "operator_id": "GB-VLT",
        "location_id": [f"LOC-{k:04d}" for k in rng.integers(0, 500, n)], "evse_uid": np.where(rng.random(n) < 0.3, "E-DC", "E-AC").tolist(),
        "emsp_id": pl.Series([e if r else None for e, r in zip(emsps.tolist(), roaming.tolist())], dtype=pl.String()), "customer_id": [f"cust-{k}" for k in rng.integers(0, max(1, n // 3), n)],
        "settlement_date": [first + dt.timedelta(days=int(d)) for d in days], "start_utc": start, "end_utc": start,
        "time_zone": "Europe/London", "energy_wh": energy, "currency": "GBP", "is_credit": False})
    cents = rng.integers(100, 5_000, n)
    energy_excl = [Decimal(int(c)).scaleb(-2) for c in cents]
    priced = pl.DataFrame({
        "session_id": ids, "settlement_date": sessions.get_column("settlement_date"), "currency": "GBP",
        "error_code": None, "tariff_id": "T1",
        "total_energy_cost_excl": energy_excl, "total_energy_cost_incl": [x * Decimal("1.2") for x in energy_excl],
        **{f"total_{d}_cost_{s}": [Decimal("0.50")] * n for d in ("fixed",) for s in ("excl", "incl")},
        **{f"total_{d}_cost_{s}": [Decimal(0)] * n for d in ("time", "parking", "reservation") for s in ("excl", "incl")},
    }, schema_overrides={c: pl.Decimal(18, 4) for c in [f"total_{d}_cost_{s}" for d in ("energy", "fixed", "time", "parking", "reservation") for s in ("excl", "incl")]})
    priced = priced.with_columns(
        (pl.col("total_energy_cost_excl") + pl.col("total_fixed_cost_excl")).alias("total_cost_excl"),
        (pl.col("total_energy_cost_incl") + pl.col("total_fixed_cost_excl")).alias("total_cost_incl"))
    electricity = pl.DataFrame({"session_id": ids, "electricity_cost": [Decimal(int(w) * 28).scaleb(-5) for w in energy],
                                "currency": "GBP"}, schema_overrides={"electricity_cost": pl.Decimal(18, 4)})
    evses = pl.DataFrame({"location_id": [f"LOC-{k:04d}" for k in range(500) for _ in (0, 1)],
                          "evse_uid": ["E-AC", "E-DC"] * 500, "power_type": ["AC_3_PHASE", "DC"] * 500})
    return first, sessions, priced, electricity, evses


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_invoicing")
    parser.add_argument("--sessions", type=int, default=200_000)
    parser.add_argument("--pdfs", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="20,000 sessions, 100 PDFs")
    args = parser.parse_args(argv)
    n, pdfs = (20_000, 100) if args.quick else (args.sessions, args.pdfs)
    first, sessions, priced, electricity, evses = synthetic_month(n)
    contracts, _ = accept_contracts([(str(i), json.dumps(d)) for i, d in enumerate(demo_contracts())])
    last = dt.date(2026, 10, 31)
    rows = []

    t = time.perf_counter()
    settlements, children = settle_month(first, sessions, priced, electricity, evses, contracts, {})
    rows.append(("partner settlement", children.height, time.perf_counter() - t))

    t = time.perf_counter()
    drafts, skipped = draft_month(first, last, sessions, priced, contracts, {"GB-VLT": "Voltline UK"}, {})
    rows.append(("invoice drafting", sessions.height, time.perf_counter() - t))

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        outcome = register.issue_month(Path(tmp), first.isoformat(), drafts, dt.date(2026, 11, 1))
        issue_s = time.perf_counter() - t
        t = time.perf_counter()
        again = register.issue_month(Path(tmp), first.isoformat(), drafts, dt.date(2026, 11, 2))
        rerun_s = time.perf_counter() - t
    assert len(outcome.issued) == len(drafts) and len(again.unchanged) == len(drafts) and not again.issued

    t = time.perf_counter()
    for draft in drafts[:pdfs]:
        render_pdf("GB-VLT-INV-000001", "invoice", "2026-11-01", draft.payload)
    pdf_s = time.perf_counter() - t

    print(f"synthetic month: {n:,} sessions, {settlements.height} partner settlements, {len(drafts):,} invoices, "
          f"{len(skipped)} not invoiced")
    print(f"{'step':<22}{'sessions':>12}{'seconds':>10}{'sessions/s':>14}{'30M-session month':>20}")
    for name, count, seconds in rows:
        rate = count / seconds
        print(f"{name:<22}{count:>12,}{seconds:>10.2f}{rate:>14,.0f}{MONTH_SESSIONS_AT_SCALE / rate / 60:>16.1f} min")
    print(f"register issue: {len(drafts):,} documents in one transaction {issue_s:.2f} s "
          f"({len(drafts) / issue_s:,.0f}/s); unchanged re-run {rerun_s:.2f} s (ratio {issue_s / rerun_s:.1f}x)")
    print(f"PDF rendering: {min(pdfs, len(drafts))} documents in {pdf_s:.2f} s ({min(pdfs, len(drafts)) / pdf_s:,.0f}/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
