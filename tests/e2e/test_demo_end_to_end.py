"""End to end: the demo generator's landing zone through the nightly settlement, checked against its manifest.

This is what `make demo` does, on a smaller fleet: generate, settle every landing day (with the late-data
re-settlements), then read the results back through the analyst catalog.
"""

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from decimal import ROUND_HALF_UP, Decimal

import duckdb
import pytest

from assets.reconciliation.reasons import REASONS

ROOT = Path(__file__).resolve().parents[2]
DAYS, PER_DAY = 2, 150
# The fixture generates and settles the demo twice (two subprocesses with their own 900 s limit); on a shared
# machine that exceeds the suite's default per-test timeout.
pytestmark = pytest.mark.timeout(1800)


def _run(args: list[str], env: dict) -> str:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _parquet_digests(warehouse: Path) -> dict[str, str]:
    return {str(p.relative_to(warehouse)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(warehouse.rglob("*.parquet"))}


@pytest.fixture(scope="module")
def settled(tmp_path_factory):
    base = tmp_path_factory.mktemp("demo")
    env = dict(os.environ, CHARGELEDGER_LANDING=str(base / "landing"), CHARGELEDGER_WAREHOUSE=str(base / "warehouse"),
               DAGSTER_HOME=str(base / "dagster_home"))
    (base / "dagster_home").mkdir()
    (base / "dagster_home" / "dagster.yaml").write_text((ROOT / "pipelines" / "dagster.yaml").read_text())
    _run(["-m", "data.generate", "--out", str(base / "landing"), "--seed", "11", "--days", str(DAYS),
          "--sessions-per-day", str(PER_DAY)], env)
    first_output = _run(["-m", "pipelines.demo"], env)
    first = _parquet_digests(base / "warehouse")
    second_output = _run(["-m", "pipelines.demo"], env)
    manifest = json.loads((base / "landing" / "_manifest.json").read_text())
    expected_text = (base / "landing" / manifest["expected_pricing"]["file"]).read_text()
    manifest["expected_records"] = [json.loads(line) for line in expected_text.split("\n") if line]
    con = duckdb.connect(str(base / "warehouse" / "chargeledger.duckdb"), read_only=True)
    yield {"con": con, "manifest": manifest, "warehouse": base / "warehouse", "output": first_output, "rerun_output": second_output,
           "first": first, "second": _parquet_digests(base / "warehouse")}
    con.close()


def test_every_delivered_session_is_settled_once(settled):
    con, manifest = settled["con"], settled["manifest"]
    expected = {(day, cur): v["sessions"] for day, by_cur in manifest["settlement"].items() for cur, v in by_cur.items()}
    rows = con.execute("select settlement_date::varchar, currency, count(*) from sessions where energy_wh > 0 "
                       "and not is_credit group by all").fetchall()
    assert {(d, c): n for d, c, n in rows} == expected
    # Every generated session, cancelled ones included, is in the catalog exactly once.
    generated = sum(day["sessions"] for day in manifest["sessions_by_day"].values())
    cancelled = sum(day.get("cancelled", 0) for day in manifest["sessions_by_day"].values())
    assert con.execute("select count(*) from sessions").fetchone()[0] == generated
    assert con.execute("select count(*) from sessions where energy_wh = 0").fetchone()[0] == cancelled
    assert con.execute("select count(*) - count(distinct session_id) from sessions").fetchone()[0] == 0


def test_energy_per_settlement_day_matches_the_meters(settled):
    con, manifest = settled["con"], settled["manifest"]
    expected = {(day, cur): v["energy_wh"] for day, by_cur in manifest["settlement"].items() for cur, v in by_cur.items()}
    rows = con.execute("select settlement_date::varchar, currency, sum(energy_wh) from sessions where not is_credit "
                       "group by all").fetchall()
    # Exact to the Wh, register faults (resets, rollbacks, zero placeholders, skewed clocks) included.
    assert {(d, c): wh for d, c, wh in rows} == {k: float(v) for k, v in expected.items()}


def test_cdr_ingest_accepts_what_the_generator_marks_valid(settled):
    con, manifest = settled["con"], settled["manifest"]
    rows = dict(con.execute("select landing_date::varchar, count(*) from ocpi_cdrs group by 1").fetchall())
    assert rows == {day: v["valid"] for day, v in manifest["counts"]["ocpi_cdrs"].items()}


def test_injected_faults_are_quarantined_with_their_reason(settled):
    con, manifest = settled["con"], settled["manifest"]
    reasons = Counter(dict(con.execute(
        "select reason_code, count(*) from quarantine where source_asset in ('ocpi_cdrs', 'partner_changes') "
        "group by 1").fetchall()))
    faults = manifest["faults"]
    assert reasons["UNKNOWN_TARIFF"] == faults["unknown_tariff"]["count"]
    assert reasons["CURRENCY_MISMATCH"] == faults["currency_mismatch"]["count"]
    assert reasons["MALFORMED_JSON"] == faults["malformed_json"]["by_source"].get("ocpi_cdrs", 0)
    assert reasons["VERSION_CONFLICT"] == faults["version_conflict"]["count"]


def test_rerun_is_byte_identical_and_summary_comes_from_the_warehouse(settled):
    assert settled["first"] == settled["second"]
    sessions = settled["con"].execute("select count(*) from sessions").fetchone()[0]
    assert f"sessions settled:   {sessions} (" in settled["output"]
    assert "chargeledger.duckdb" in settled["output"]


CENT = Decimal("0.01")
DIMENSIONS = ("energy", "time", "parking", "fixed")


def _cents(value) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _unfaulted(settled) -> dict[tuple[str, str], dict]:
    records = settled["manifest"]["expected_records"]
    assert len(records) == settled["manifest"]["expected_pricing"]["sessions"]
    return {(r["source"], r["source_id"]): r for r in records if r["fault"] is None}


def test_engine_totals_equal_the_generators_expected_totals(settled):
    """Every unfaulted session the sources priced: the engine's totals per dimension, excl. and incl. VAT, are
    the generator's expected engine totals to the cent (idle fees after their grace included)."""
    expected = _unfaulted(settled)
    columns = ", ".join(f"p.total_{d}_cost_{side}" for d in DIMENSIONS for side in ("excl", "incl"))
    rows = settled["con"].execute(
        f"select s.source, s.source_id, p.tariff_id, p.currency, p.error_code, {columns}, p.total_cost_excl, "
        "p.total_cost_incl from priced_sessions p join sessions s using (session_id)").fetchall()
    names = [f"{d}_{side}" for d in DIMENSIONS for side in ("excl", "incl")] + ["total_excl", "total_incl"]
    found, wrong = 0, []
    for source, source_id, tariff_id, currency, error, *amounts in rows:
        record = expected.get((source, source_id))
        if record is None:
            continue
        found += 1
        got = {"tariff_id": tariff_id, "currency": currency, "error": error,
               **{n: None if a is None else _cents(a) for n, a in zip(names, amounts)}}
        want = {"tariff_id": record["tariff_id"], "currency": record["currency"], "error": None,
                **{n: _cents(record["engine"][n]) for n in names}}
        if got != want:
            wrong.append((source_id, got, want))
    assert found == len(expected) > 100
    assert wrong == []
    # The demo's idle fees are priced: some sessions pay one.
    assert sum(1 for r in expected.values() if Decimal(r["engine"]["parking_incl"]) > 0) > 10


def test_every_reconciliation_difference_has_a_reason(settled):
    con = settled["con"]
    reasons = dict(con.execute("select reason_code, count(*) from reconciliation group by 1").fetchall())
    assert set(reasons) <= set(REASONS) and "MISMATCH" not in reasons
    assert con.execute("select count(*) from reconciliation where reason_code is null").fetchone()[0] == 0
    # One comparison of each session's total with its own record, for every priced_sessions row.
    assert con.execute("select count(distinct session_id) from reconciliation where counterpart = 'record'").fetchone()[0] \
        == con.execute("select count(*) from priced_sessions").fetchone()[0]
    expected = _unfaulted(settled)
    rows = con.execute(
        "select s.source, s.source_id, r.reason_code from reconciliation r join sessions s using (session_id) "
        "where r.counterpart = 'record' and r.dimension = 'total_incl'").fetchall()
    seen = {}
    for source, source_id, reason in rows:
        record = expected.get((source, source_id))
        if record is not None:
            # The source's per-line cents, or the idle fee Eevion charges without reporting the idle time.
            allowed = {"IDLE_NOT_REPORTED"} if record["unreported_idle_fee"] else {"AGREES", "ROUNDING"}
            seen[source_id] = reason if reason in allowed else f"{reason} not in {sorted(allowed)}"
    assert len(seen) == len(expected)
    assert [v for v in seen.values() if " not in " in v] == []
    assert "reconciliation, engine vs each session's own record" in settled["output"]


def test_invoices_add_up_and_their_pdfs_show_lines_and_totals(settled):
    """Every issued invoice: net + VAT = gross, totals are the sums of its rounded lines; the PDF a customer
    receives (text extracted with pypdf) shows its number, every line's net and VAT, and the totals."""
    from pypdf import PdfReader

    con = settled["con"]
    docs = con.execute("select number, currency, net_total, vat_total, gross_total, pdf_path, line_count from invoices "
                       "where document_type = 'invoice' order by number").fetchall()
    assert docs, "the demo issues invoices"
    lines = {}
    for number, net, vat in con.execute("select number, net, vat from invoice_lines order by number, line_no").fetchall():
        lines.setdefault(number, []).append((net, vat))
    for number, _, net, vat, gross, _, line_count in docs:
        assert line_count > 0, f"{number} is an empty invoice"  # sessions priced at 0.00 are NOTHING_TO_BILL
        assert net + vat == gross, number
        assert (sum(n for n, _ in lines[number]), sum(v for _, v in lines[number])) == (net, vat), number
        assert len(lines[number]) == line_count, number
    # The PDFs of the first, the last and the largest invoice.
    for number, currency, net, vat, gross, pdf_path, _ in {docs[0], docs[-1], max(docs, key=lambda d: d[6])}:
        text = "\n".join(page.extract_text() for page in PdfReader(settled["warehouse"] / pdf_path).pages)
        assert f"INVOICE {number}" in text
        for label, amount in (("Total net", net), ("Total VAT", vat), ("Total gross", gross)):
            assert f"{label}: {amount:.2f} {currency}" in text, (number, label)
        for line_net, line_vat in lines[number]:
            assert f"{line_net:.2f}" in text and f"{line_vat:.2f}" in text, number


def test_partner_settlements_cover_every_roaming_session(settled):
    """Each session of an eMSP's customer is in exactly one partner settlement row (settled or reported as
    having no contract), and a settled row's net payable is its revenue less its deductions."""
    con = settled["con"]
    roaming = con.execute("select count(*) from sessions where emsp_id is not null and not is_credit").fetchone()[0]
    covered = con.execute("select count(*), count(distinct session_id) from partner_settlement_sessions").fetchone()
    assert roaming > 0 and covered == (roaming, roaming)
    statuses = dict(con.execute("select status, count(*) from partner_settlements group by 1").fetchall())
    assert statuses.get("SETTLED", 0) > 0
