"""Invoices of a hand-built October 2026 (tests/partner_settlement/builders.py).

Customers at issuer GB-VLT: direct customer cust-1 (sessions A and B, two VAT rates), the eMSP NL-TNM (S1, S2
under contract GB-VLT:NL-TNM, lines per session, standard VAT) and direct customer cust-2 (C).

cust-1, per session and rate (half-up to the penny):
| line | net | rate | VAT |
|---|---|---|---|
| A energy | 10.00 | 20 % | 2.00 |
| A parking | 2.00 | 5 % | 0.10 |
| B energy 3.3333 | 3.33 | 20 % | 0.67 (0.666) |
VAT summary: 5 %: 2.00 + 0.10 = 2.10; 20 %: 13.33 + 2.67 = 16.00. Totals 15.33 + 2.77 = 18.10.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import dagster as dg
import polars as pl
from pypdf import PdfReader

from assets.invoicing import drafting, invoice_lines, invoices, issue
from assets.invoicing.issue import flag_stale_invoices
from assets.partner_settlement import partner_contracts, partner_settlements
from assets.partner_settlement.months import month_bounds
from tests.partner_settlement.builders import CONTRACT, D, price, session, write_contracts, write_month, write_reference

MONTH = "2026-10-01"
ISSUED = {"ops": {"invoices": {"config": {"issued_on": "2026-11-01"}}}}


def build(warehouse, landing):
    write_reference(warehouse)
    write_month(warehouse, [
        session("ocpi:A", "2026-10-03", customer="cust-1"),
        session("ocpi:B", "2026-10-04", customer="cust-1", hour=8),
        session("ocpi:C", "2026-10-04", customer="cust-2"),
        session("ocpi:S1", "2026-10-05", emsp="NL-TNM", energy_wh=10_123.0),
        session("ocpi:S2", "2026-10-20", emsp="NL-TNM", evse="E-DC", energy_wh=30_000.0),
        session("ocpi:U", "2026-10-20", customer="cust-3"),
    ], [
        price("ocpi:A", "2026-10-03", energy=("10.0000", "12.0000"), parking=("2.0000", "2.1000")),
        price("ocpi:B", "2026-10-04", energy=("3.3333", "4.0000")),
        price("ocpi:C", "2026-10-04", energy=("1.0000", "1.2000")),
        price("ocpi:S1", "2026-10-05", energy=("4.5000", "5.4000"), fixed=("0.5000", "0.6000")),
        price("ocpi:S2", "2026-10-20", energy=("14.0000", "16.8000"), fixed=("1.0000", "1.2000")),
        price("ocpi:U", "2026-10-20", error_code="NO_TARIFF"),
    ], {})
    write_contracts(landing, [CONTRACT])


def run(warehouse, landing, run_config=ISSUED):
    result = dg.materialize([partner_contracts, partner_settlements, invoices], partition_key=MONTH,
                            resources={"warehouse": warehouse, "landing": landing}, run_config=run_config)
    assert result.success
    return result


def documents(warehouse) -> dict[str, dict]:
    return {r["number"]: r for r in warehouse.read("invoices").iter_rows(named=True)}


def pdf_text(warehouse, row) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO((Path(warehouse.root) / row["pdf_path"]).read_bytes())).pages)


def test_invoice_with_two_vat_rates(tmp_warehouse, tmp_landing):
    build(tmp_warehouse, tmp_landing)
    result = run(tmp_warehouse, tmp_landing)
    docs = documents(tmp_warehouse)
    # Numbers follow the customer keys in order: direct cust-1, direct cust-2, then the eMSP.
    assert sorted(docs) == ["GB-VLT-INV-000001", "GB-VLT-INV-000002", "GB-VLT-INV-000003"]
    cust1 = docs["GB-VLT-INV-000001"]
    assert (cust1["customer_id"], cust1["document_type"], cust1["status"]) == ("cust-1", "invoice", "issued")
    assert (cust1["net_total"], cust1["vat_total"], cust1["gross_total"]) == (D("15.33"), D("2.77"), D("18.10"))
    vat = tmp_warehouse.read("invoice_vat").filter(pl.col("number") == "GB-VLT-INV-000001").sort("vat_rate")
    assert vat.select("vat_rate", "net", "vat", "gross").rows() == [
        (D("5.0"), D("2.00"), D("0.10"), D("2.10")), (D("20.0"), D("13.33"), D("2.67"), D("16.00"))]
    emsp = docs["GB-VLT-INV-000003"]
    assert (emsp["customer_kind"], emsp["customer_name"], emsp["contract"]) == ("emsp", "TapNMove", "GB-VLT:NL-TNM v1")
    assert (emsp["net_total"], emsp["vat_total"], emsp["gross_total"]) == (D("20.00"), D("4.00"), D("24.00"))
    skipped = tmp_warehouse.read("uninvoiced_sessions")
    assert skipped.select("session_id", "reason_code").rows() == [("ocpi:U", "NOT_PRICED")]
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["lines_add_up"] and checks["schema"] and checks["every_session_billed_once_or_explained"]
    summary = invoice_lines(tmp_warehouse)
    assert any("GBP direct: 2 invoices, net 16.33 + VAT 2.97 = 19.30" in line for line in summary)
    assert any("not invoiced, NOT_PRICED: 1 sessions" in line for line in summary)


def test_lines_are_in_start_order(tmp_warehouse, tmp_landing):
    build(tmp_warehouse, tmp_landing)
    run(tmp_warehouse, tmp_landing)
    lines = tmp_warehouse.read("invoice_lines").filter(pl.col("number") == "GB-VLT-INV-000001").sort("line_no")
    assert lines.select("session_id", "vat_rate", "net", "vat", "gross").rows() == [
        ("ocpi:A", D("5.0"), D("2.00"), D("0.10"), D("2.10")),
        ("ocpi:A", D("20.0"), D("10.00"), D("2.00"), D("12.00")),
        ("ocpi:B", D("20.0"), D("3.33"), D("0.67"), D("4.00")),
    ]


def test_pdf_shows_lines_and_totals(tmp_warehouse, tmp_landing):
    build(tmp_warehouse, tmp_landing)
    run(tmp_warehouse, tmp_landing)
    text = pdf_text(tmp_warehouse, documents(tmp_warehouse)["GB-VLT-INV-000001"])
    for expected in ("INVOICE GB-VLT-INV-000001", "Issuer: Voltline UK (GB-VLT)", "Customer: cust-1",
                     "Period: 2026-10-01 to 2026-10-31", "session ocpi:A", "session ocpi:B", "3.33", "0.67",
                     "VAT 5.0 %: net 2.00 GBP, VAT 0.10 GBP", "VAT 20.0 %: net 13.33 GBP, VAT 2.67 GBP",
                     "Total net: 15.33 GBP", "Total VAT: 2.77 GBP", "Total gross: 18.10 GBP"):
        assert expected in text, expected


def test_rerun_reproduces_numbers_parquet_and_pdfs(tmp_warehouse, tmp_landing):
    build(tmp_warehouse, tmp_landing)
    run(tmp_warehouse, tmp_landing)
    root = Path(tmp_warehouse.root)
    files = sorted([*root.rglob("invoice*/**/*.parquet"), *root.rglob("*.pdf")])
    before = {f: f.read_bytes() for f in files}
    (root / documents(tmp_warehouse)["GB-VLT-INV-000002"]["pdf_path"]).unlink()  # a lost PDF is rendered again
    result = run(tmp_warehouse, tmp_landing, {"ops": {"invoices": {"config": {"issued_on": "2026-12-24"}}}})
    assert sorted([*root.rglob("invoice*/**/*.parquet"), *root.rglob("*.pdf")]) == files
    assert {f: f.read_bytes() for f in files} == before
    meta = result.asset_materializations_for_node("invoices")[0].metadata
    assert (meta["issued_this_run"].value, meta["credit_notes_this_run"].value, meta["unchanged"].value) == (0, 0, 3)


def test_tables_exported_a_document_at_a_time_are_the_same_files(tmp_warehouse, tmp_landing, monkeypatch):
    """The register is exported in batches (of documents and of lines), each spilled as one part: batches of one
    document give the files of one batch of the whole month, byte for byte."""
    build(tmp_warehouse, tmp_landing)
    run(tmp_warehouse, tmp_landing)
    root = Path(tmp_warehouse.root)
    tables = sorted(root.rglob("invoice*/**/*.parquet"))
    whole = {f: f.read_bytes() for f in tables}
    for table in ("invoices", "invoice_lines", "invoice_vat"):
        shutil.rmtree(root / table)
    monkeypatch.setattr(issue, "EXPORT_BATCH_DOCUMENTS", 1)
    monkeypatch.setattr(issue, "EXPORT_BATCH_LINES", 1)
    parts = []
    monkeypatch.setattr(issue.SortedPartsWriter, "append",
                        lambda writer, frame, append=issue.SortedPartsWriter.append: parts.append(writer.spec.name)
                        or append(writer, frame))
    run(tmp_warehouse, tmp_landing)
    assert parts.count("invoices") == 3 and parts.count("invoice_lines") == 3  # one part per document
    assert sorted(root.rglob("invoice*/**/*.parquet")) == tables
    assert {f: f.read_bytes() for f in tables} == whole


def test_a_month_drafted_by_ranges_of_customers_gives_the_same_drafts(tmp_warehouse, tmp_landing, monkeypatch):
    """A month above DRAFT_RANGE_SESSIONS is read a settlement date at a time and drafted by ranges of customer
    keys spilled to disk: the drafts, their order and the sessions not invoiced are those of one read."""
    build(tmp_warehouse, tmp_landing)
    run(tmp_warehouse, tmp_landing)  # the contracts
    first, last = month_bounds(MONTH)

    def drafted():
        month = issue.drafts_for(tmp_warehouse, first, last)
        return [(d.customer_key, d.content_hash, d.payload) for d in month], month.uninvoiced

    whole = drafted()
    ranges = []
    monkeypatch.setattr(drafting, "DRAFT_RANGE_SESSIONS", 1)
    monkeypatch.setattr(drafting, "_rows_in_key_order",
                        lambda rows, order=drafting._rows_in_key_order: ranges.append(rows.height) or order(rows))
    assert drafted() == whole
    assert len(whole[0]) == 3 and [u.session_id for u in whole[1]] == ["ocpi:U"]
    assert sum(ranges) == 6 and len(ranges) == 4  # cust-1 (2 sessions), cust-2, cust-3 (not priced), NL-TNM (2)
    assert not list((Path(tmp_warehouse.root) / "_spill").glob("drafts-*"))  # the spill is removed


def test_late_cdr_after_issue_gives_credit_note_and_new_invoice(tmp_warehouse, tmp_landing):
    build(tmp_warehouse, tmp_landing)
    run(tmp_warehouse, tmp_landing)
    # A CDR of TapNMove's customer for 20 October lands in November; the day is re-settled.
    write_month(tmp_warehouse, [
        session("ocpi:S2", "2026-10-20", emsp="NL-TNM", evse="E-DC", energy_wh=30_000.0),
        session("ocpi:U", "2026-10-20", customer="cust-3"),
        session("ocpi:LATE", "2026-10-20", emsp="NL-TNM", hour=15),
    ], [
        price("ocpi:S2", "2026-10-20", energy=("14.0000", "16.8000"), fixed=("1.0000", "1.2000")),
        price("ocpi:U", "2026-10-20", error_code="NO_TARIFF"),
        price("ocpi:LATE", "2026-10-20", energy=("7.5000", "9.0000")),
    ], {})
    first, last = month_bounds(MONTH)
    import datetime as dt
    flags = flag_stale_invoices(tmp_warehouse, first, last, dt.date(2026, 10, 20), "2026-11-03T02:00:00+00:00")
    assert len(flags) == 1
    assert flag_stale_invoices(tmp_warehouse, first, last, dt.date(2026, 10, 20), "later") == []  # flagged once
    run(tmp_warehouse, tmp_landing, {"ops": {"invoices": {"config": {"issued_on": "2026-11-03"}}}})
    docs = documents(tmp_warehouse)
    assert sorted(docs) == ["GB-VLT-CN-000001", "GB-VLT-INV-000001", "GB-VLT-INV-000002", "GB-VLT-INV-000003",
                            "GB-VLT-INV-000004"]
    old, note, new = docs["GB-VLT-INV-000003"], docs["GB-VLT-CN-000001"], docs["GB-VLT-INV-000004"]
    assert (old["status"], old["credited_by"], old["gross_total"]) == ("credited", "GB-VLT-CN-000001", D("24.00"))
    assert (note["document_type"], note["credits_number"], note["customer_id"]) == ("credit_note", "GB-VLT-INV-000003", "NL-TNM")
    assert (note["net_total"], note["vat_total"], note["gross_total"]) == (D("-20.00"), D("-4.00"), D("-24.00"))
    assert (new["status"], new["session_count"], new["net_total"], new["vat_total"], new["gross_total"]) == \
        ("issued", 3, D("27.50"), D("5.50"), D("33.00"))
    assert (docs["GB-VLT-INV-000001"]["status"], docs["GB-VLT-INV-000002"]["status"]) == ("issued", "issued")
    assert (note["issued_on"].isoformat(), old["issued_on"].isoformat()) == ("2026-11-03", "2026-11-01")
    flag_rows = tmp_warehouse.read("invoice_flags")
    assert flag_rows.select("number", "settlement_date", "reason", "resolved_by").rows() == [
        ("GB-VLT-INV-000003", dt.date(2026, 10, 20), "LATE_DATA", "GB-VLT-CN-000001, GB-VLT-INV-000004")]
    text = pdf_text(tmp_warehouse, note)
    assert "CREDIT NOTE GB-VLT-CN-000001" in text and "Credits invoice GB-VLT-INV-000003" in text
    assert "Total gross: -24.00 GBP" in text
    # And the month is stable again: one more run issues nothing.
    run(tmp_warehouse, tmp_landing, {"ops": {"invoices": {"config": {"issued_on": "2026-11-04"}}}})
    assert sorted(documents(tmp_warehouse)) == sorted(docs)


def test_pro_forma_is_its_own_series_and_is_superseded(tmp_warehouse, tmp_landing):
    build(tmp_warehouse, tmp_landing)
    run(tmp_warehouse, tmp_landing, {"ops": {"invoices": {"config": {"document_type": "pro_forma", "issued_on": "2026-10-28"}}}})
    docs = documents(tmp_warehouse)
    assert sorted(docs) == ["GB-VLT-PF-000001", "GB-VLT-PF-000002", "GB-VLT-PF-000003"]
    run(tmp_warehouse, tmp_landing)
    docs = documents(tmp_warehouse)
    assert sorted(n for n, d in docs.items() if d["document_type"] == "invoice") == [
        "GB-VLT-INV-000001", "GB-VLT-INV-000002", "GB-VLT-INV-000003"]  # pro formas take no invoice number
    assert {d["status"] for n, d in docs.items() if d["document_type"] == "pro_forma"} == {"superseded"}
    assert "PRO FORMA INVOICE GB-VLT-PF-000001" in pdf_text(tmp_warehouse, docs["GB-VLT-PF-000001"])


def test_aggregated_lines_for_a_partner(tmp_warehouse, tmp_landing):
    build(tmp_warehouse, tmp_landing)
    write_contracts(tmp_landing, [CONTRACT | {"invoiceLines": "aggregated", "vatTreatment": "reverse_charge"}])
    run(tmp_warehouse, tmp_landing)
    doc = documents(tmp_warehouse)["GB-VLT-INV-000003"]
    lines = tmp_warehouse.read("invoice_lines").filter(pl.col("number") == doc["number"])
    assert lines.select("description", "quantity", "vat_rate", "net", "vat").rows() == [
        ("2 charging session(s) at LOC-1", D("2"), D("0.0"), D("20.00"), D("0.00"))]
    assert (doc["vat_treatment"], doc["gross_total"]) == ("reverse_charge", D("20.00"))
    assert "VAT reverse charge" in pdf_text(tmp_warehouse, doc)


def test_gross_prices_without_a_named_rate_take_the_issuers_vat(tmp_warehouse, tmp_landing):
    """Platform tariffs are gross (tax_included YES) and name no rate: the engine's excl. = incl.

    cust-1 at GB-VLT (vat_percent 20): A 12.00 gross → VAT 12 × 20/120 = 2.00, net 10.00; B 5.55 gross → VAT
    0.925 → 0.93, net 4.62. Totals 14.62 + 2.93 = 17.55 (= what the customer was charged). At NL-GRX, whose
    reference document has no vat_percent, the session is not invoiced: VAT_RATE_UNKNOWN.
    """
    from resources.tables import get_spec
    build(tmp_warehouse, tmp_landing)
    operators = [{"operator_id": "GB-VLT", "name": "Voltline UK", "country": "GB", "time_zone": "Europe/London",
                  "currency": "GBP", "raw_payload": '{"id": "GB-VLT", "vat_percent": 20}'},
                 {"operator_id": "NL-GRX", "name": "Gracht Charge", "country": "NL", "time_zone": "Europe/Amsterdam",
                  "currency": "EUR", "raw_payload": '{"id": "NL-GRX"}'}]
    tmp_warehouse.write_partition("operators", pl.DataFrame(operators, schema=get_spec("operators").schema))
    tmp_warehouse.write_partition("tariffs", pl.DataFrame(
        [{"tariff_id": "T1", "source": "platform", "currency": "GBP", "tax_included": "YES", "tariff_json": "{}",
          "record_ref": "x", "raw_payload": "{}"}], schema=get_spec("tariffs").schema))
    write_month(tmp_warehouse, [
        session("ocpi:A", "2026-10-03", customer="cust-1"),
    ], [price("ocpi:A", "2026-10-03", energy=("12.0000", "12.0000"))], {})
    write_month(tmp_warehouse, [
        session("ocpi:B", "2026-10-04", customer="cust-1", hour=8),
        session("ocpi:C", "2026-10-04", customer="cust-2", operator="NL-GRX", currency="EUR"),
    ], [price("ocpi:B", "2026-10-04", energy=("5.5500", "5.5500")),
        price("ocpi:C", "2026-10-04", currency="EUR", energy=("3.0000", "3.0000"))], {})
    run(tmp_warehouse, tmp_landing)
    cust1 = next(r for r in documents(tmp_warehouse).values() if r["customer_id"] == "cust-1")
    assert (cust1["net_total"], cust1["vat_total"], cust1["gross_total"]) == (D("14.62"), D("2.93"), D("17.55"))
    lines = tmp_warehouse.read("invoice_lines").filter(pl.col("number") == cust1["number"]).sort("line_no")
    assert lines.select("session_id", "vat_rate", "net", "vat", "gross").rows() == [
        ("ocpi:A", D("20.0"), D("10.00"), D("2.00"), D("12.00")), ("ocpi:B", D("20.0"), D("4.62"), D("0.93"), D("5.55"))]
    skipped = dict(tmp_warehouse.read("uninvoiced_sessions").select("session_id", "reason_code").iter_rows())
    assert skipped["ocpi:C"] == "VAT_RATE_UNKNOWN"


def test_a_renamed_partner_does_not_reissue_the_month(tmp_warehouse, tmp_landing):
    build(tmp_warehouse, tmp_landing)
    run(tmp_warehouse, tmp_landing)
    registry = tmp_warehouse.read("partners").with_columns(pl.lit("TapNMove B.V.").alias("name"))
    import datetime as dt
    tmp_warehouse.write_partition("partners", registry, as_of_date=dt.date(2026, 10, 1))
    run(tmp_warehouse, tmp_landing, {"ops": {"invoices": {"config": {"issued_on": "2026-11-09"}}}})
    docs = documents(tmp_warehouse)
    assert sorted(docs) == ["GB-VLT-INV-000001", "GB-VLT-INV-000002", "GB-VLT-INV-000003"]
    assert docs["GB-VLT-INV-000003"]["customer_name"] == "TapNMove"  # as issued


def test_aggregated_direct_invoices_are_not_flagged_without_a_change(tmp_warehouse, tmp_landing):
    import datetime as dt
    build(tmp_warehouse, tmp_landing)
    run(tmp_warehouse, tmp_landing, {"ops": {"invoices": {"config": {"issued_on": "2026-11-01",
                                                                     "direct_line_mode": "aggregated"}}}})
    first, last = month_bounds(MONTH)
    assert flag_stale_invoices(tmp_warehouse, first, last, dt.date(2026, 10, 20), "now") == []
    lines = tmp_warehouse.read("invoice_lines").filter(pl.col("number") == "GB-VLT-INV-000001").sort("line_no")
    assert lines.select("description", "vat_rate", "net", "vat").rows() == [
        ("1 charging session(s) at LOC-1", D("5.0"), D("2.00"), D("0.10")),  # only A has parking at 5 %
        ("2 charging session(s) at LOC-1", D("20.0"), D("13.33"), D("2.67"))]


def test_a_run_names_at_most_a_hundred_new_numbers():
    """The run's metadata lists the first hundred new numbers and counts the rest (the table has every one)."""
    from assets.invoicing.assets import _listed
    numbers = [f"GB-VLT-INV-{n:06d}" for n in range(1, 103)]
    assert _listed([]) == "none" and _listed(numbers[:2]) == "GB-VLT-INV-000001, GB-VLT-INV-000002"
    listed = _listed(numbers)
    assert listed.count("GB-VLT-INV-") == 100 and listed.endswith("GB-VLT-INV-000100 and 2 more (the `invoices` table lists every one)")
