"""The invoice register on its own: numbering, immutability, credit notes and pro formas, without Dagster."""

from __future__ import annotations

import datetime as dt

import pytest

from assets.invoicing import register
from assets.invoicing.drafting import content_hash

DAY = dt.date(2026, 11, 1)


def draft(customer: str, gross: str, issuer: str = "GB-VLT") -> register.Draft:
    payload = {"issuer": {"id": issuer, "name": issuer}, "customer": {"kind": "direct", "id": customer, "name": customer},
               "lines": [{"net": gross, "vat": "0.00", "gross": gross}],
               "vat_summary": [{"vat_rate": "0.0", "net": gross, "vat": "0.00", "gross": gross}],
               "totals": {"net": gross, "vat": "0.00", "gross": gross}}
    return register.Draft(issuer, f"{issuer}|direct|{customer}|GBP", content_hash(payload), payload)


def test_numbers_per_issuer_and_series_changes_and_disappearances(tmp_path):
    first = register.issue_month(tmp_path, "2026-10-01", [draft("a", "1.00"), draft("b", "2.00"),
                                                          draft("c", "3.00", issuer="NL-GRX")], DAY)
    assert first.issued == ["GB-VLT-INV-000001", "GB-VLT-INV-000002", "NL-GRX-INV-000001"]
    # a unchanged, b gone (its session was reversed), c changed.
    second = register.issue_month(tmp_path, "2026-10-01", [draft("a", "1.00"), draft("c", "3.50", issuer="NL-GRX")],
                                  DAY + dt.timedelta(days=2))
    assert (second.unchanged, second.credit_notes, second.issued) == (
        ["GB-VLT-INV-000001"], ["GB-VLT-CN-000001", "NL-GRX-CN-000001"], ["NL-GRX-INV-000002"])
    docs = {d.number: d for d in register.month_documents(tmp_path, "2026-10-01")}
    assert (docs["GB-VLT-INV-000002"].status, docs["GB-VLT-INV-000002"].credited_by) == ("credited", "GB-VLT-CN-000001")
    note = docs["GB-VLT-CN-000001"]
    assert (note.credits_number, note.payload["totals"], note.issued_on) == (
        "GB-VLT-INV-000002", {"net": "-2.00", "vat": "0.00", "gross": "-2.00"}, "2026-11-03")
    # The original keeps its content and date: issued documents never change.
    assert (docs["GB-VLT-INV-000002"].payload["totals"]["gross"], docs["GB-VLT-INV-000002"].issued_on) == ("2.00", "2026-11-01")
    # A customer coming back later gets a new number, never a reused one.
    third = register.issue_month(tmp_path, "2026-10-01", [draft("a", "1.00"), draft("b", "2.00"),
                                                          draft("c", "3.50", issuer="NL-GRX")], DAY)
    assert third.issued == ["GB-VLT-INV-000003"]


def test_pro_formas_are_superseded_not_credited(tmp_path):
    register.issue_month(tmp_path, "2026-10-01", [draft("a", "1.00")], DAY, "pro_forma")
    again = register.issue_month(tmp_path, "2026-10-01", [draft("a", "1.50")], DAY, "pro_forma")
    assert (again.issued, again.credit_notes) == (["GB-VLT-PF-000002"], [])
    statuses = {d.number: d.status for d in register.month_documents(tmp_path, "2026-10-01")}
    assert statuses == {"GB-VLT-PF-000001": "superseded", "GB-VLT-PF-000002": "issued"}


def test_bad_calls_change_nothing(tmp_path):
    with pytest.raises(ValueError):
        register.issue_month(tmp_path, "2026-10-01", [draft("a", "1.00"), draft("a", "2.00")], DAY)
    with pytest.raises(ValueError):
        register.issue_month(tmp_path, "2026-10-01", [draft("a", "1.00")], DAY, "credit_note")
    assert register.month_documents(tmp_path, "2026-10-01") == []


def test_drafts_one_at_a_time_in_key_order_issue_what_a_list_issues(tmp_path):
    """A generator of drafts (drafted customer by customer) is walked against the live documents in key order:
    the numbers, credit notes and unchanged documents are those of the same drafts given as a list."""
    months = {"listed": tmp_path / "listed", "streamed": tmp_path / "streamed"}
    first = [draft("b", "2.00"), draft("a", "1.00"), draft("d", "4.00"), draft("c", "3.00", issuer="NL-GRX")]
    second = [draft("a", "1.00"), draft("b", "2.50"), draft("c2", "5.00", issuer="NL-GRX"), draft("e", "6.00")]
    outcomes = {}
    for how, folder in months.items():
        give = (lambda ds: ds) if how == "listed" else (lambda ds: (d for d in sorted(ds, key=lambda d: d.customer_key)))
        outcomes[how] = [register.issue_month(folder, "2026-10-01", give(first), DAY),
                         register.issue_month(folder, "2026-10-01", give(second), DAY + dt.timedelta(days=1))]
    assert outcomes["streamed"] == outcomes["listed"]
    # b changed, d and NL-GRX|c are gone, NL-GRX|c2 and e are new; a is unchanged.
    assert (outcomes["streamed"][1].unchanged, outcomes["streamed"][1].credit_notes, outcomes["streamed"][1].issued) == (
        ["GB-VLT-INV-000001"], ["GB-VLT-CN-000001", "GB-VLT-CN-000002", "NL-GRX-CN-000001"],
        ["GB-VLT-INV-000004", "GB-VLT-INV-000005", "NL-GRX-INV-000002"])
    listed = [(d.number, d.status, d.credited_by, d.payload) for d in register.month_documents(months["listed"], "2026-10-01")]
    streamed = [(d.number, d.status, d.credited_by, d.payload)
                for d in register.month_documents(months["streamed"], "2026-10-01")]
    assert streamed == listed and len(streamed) == 10  # 4 invoices, 3 credit notes, 3 new invoices
    by_number = [d.number for d in register.iter_month_documents(months["streamed"], "2026-10-01", by_number=True)]
    assert by_number == sorted(by_number) and len(by_number) == 10


def test_drafts_out_of_key_order_are_refused_and_change_nothing(tmp_path):
    with pytest.raises(ValueError, match="out of customer key order"):
        register.issue_month(tmp_path, "2026-10-01", iter([draft("b", "1.00"), draft("a", "2.00")]), DAY)
    with pytest.raises(ValueError, match="same customer key"):
        register.issue_month(tmp_path, "2026-10-01", iter([draft("a", "1.00"), draft("a", "2.00")]), DAY)
    assert register.month_documents(tmp_path, "2026-10-01") == []
    assert register.month_document_count(tmp_path, "2026-10-01") == 0
