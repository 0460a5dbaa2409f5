"""Tables of invoicing: documents, their lines and VAT summary, flags, and sessions not invoiced.

Every table of a month is exported from the invoice register (the system of record for issued documents),
so re-running a month with unchanged data writes byte-identical files.
"""

import pandera.polars as pa
import polars as pl

from assets.columns import MONEY, RATE
from resources.tables import TableSpec

MONTH = "billing_month"
MONTH_DOC = "First day of the invoiced month (the monthly partition)."


class InvoiceModel(pa.DataFrameModel):
    """Numbers are unique; every document's net + VAT = gross; a credit note names the invoice it credits."""

    number: str = pa.Field(nullable=False, unique=True)
    document_type: str = pa.Field(isin=["invoice", "credit_note", "pro_forma"])
    status: str = pa.Field(isin=["issued", "credited", "superseded"])

    @pa.dataframe_check
    def net_plus_vat_is_gross(cls, data) -> pl.LazyFrame:
        """Totals add up to the cent."""
        return data.lazyframe.select(pl.col("net_total") + pl.col("vat_total") == pl.col("gross_total"))

    @pa.dataframe_check
    def credit_notes_name_their_invoice(cls, data) -> pl.LazyFrame:
        """A credit note always credits an invoice."""
        return data.lazyframe.select((pl.col("document_type") != "credit_note") | pl.col("credits_number").is_not_null())


INVOICES = TableSpec(
    name="invoices",
    description="Invoices, credit notes and pro formas per issuer (operator) and customer (direct customer or eMSP "
                "partner) and month, as issued from the invoice register; an issued document never changes.",
    schema={MONTH: pl.Date(), "number": pl.String(), "document_type": pl.String(), "status": pl.String(),
            "issuer_id": pl.String(), "issuer_name": pl.String(), "customer_kind": pl.String(),
            "customer_id": pl.String(), "customer_name": pl.String(), "currency": pl.String(),
            "period_start": pl.Date(), "period_end": pl.Date(), "issued_on": pl.Date(),
            "credits_number": pl.String(), "credited_by": pl.String(), "contract": pl.String(),
            "vat_treatment": pl.String(), "line_mode": pl.String(), "line_count": pl.Int64(),
            "session_count": pl.Int64(), "net_total": MONEY, "vat_total": MONEY, "gross_total": MONEY,
            "content_hash": pl.String(), "pdf_path": pl.String()},
    partition_by=(MONTH,),
    sort_by=("number",),
    column_docs={
        MONTH: MONTH_DOC,
        "number": "Document number, sequential per issuer and series with no gap: <issuer>-INV|CN|PF-NNNNNN.",
        "document_type": "invoice, credit_note or pro_forma (the platform's invoice types).",
        "status": "issued; credited (an invoice a credit note reversed); superseded (a replaced pro forma).",
        "customer_kind": "emsp (roaming partner billed for its customers' sessions) or direct (our own customer).",
        "credits_number": "For a credit note: the invoice it reverses.",
        "credited_by": "For a credited invoice: the credit note that reversed it.",
        "contract": "Partner contract version that set the line mode and VAT treatment.",
        "vat_treatment": "standard, reverse_charge or exempt.",
        "net_total": "Sum of the rounded line nets.", "vat_total": "Sum of the rounded line VAT amounts.",
        "gross_total": "net_total + vat_total.",
        "content_hash": "SHA-256 of the document content; a change after issue yields a credit note and a new invoice.",
        "pdf_path": "The PDF, relative to the warehouse root.",
    },
    model=InvoiceModel,
)

INVOICE_LINES = TableSpec(
    name="invoice_lines",
    description="Lines of every invoice, credit note and pro forma: per session or per location, per VAT rate.",
    schema={MONTH: pl.Date(), "number": pl.String(), "line_no": pl.Int64(), "description": pl.String(),
            "session_id": pl.String(), "location_id": pl.String(), "quantity": pl.Decimal(18, 3), "unit": pl.String(),
            "energy_wh": pl.Decimal(18, 3), "vat_rate": RATE, "net": MONEY, "vat": MONEY, "gross": MONEY},
    partition_by=(MONTH,),
    sort_by=("number", "line_no"),
    column_docs={MONTH: MONTH_DOC, "number": "The document (invoices.number).",
                 "session_id": "The session billed (null on aggregated lines).",
                 "quantity": "kWh (per-session lines) or number of sessions (aggregated lines).",
                 "vat_rate": "VAT percent.", "net": "Net amount, rounded half-up to the currency's minor unit.",
                 "vat": "net × rate, rounded the same way.", "gross": "net + vat."},
)

INVOICE_VAT = TableSpec(
    name="invoice_vat",
    description="VAT summary of every document: per VAT rate, the sums of its rounded lines.",
    schema={MONTH: pl.Date(), "number": pl.String(), "vat_rate": RATE, "net": MONEY, "vat": MONEY, "gross": MONEY},
    partition_by=(MONTH,),
    sort_by=("number", "vat_rate"),
    column_docs={MONTH: MONTH_DOC, "number": "The document (invoices.number)."},
)

INVOICE_FLAGS = TableSpec(
    name="invoice_flags",
    description="Issued invoices the late-data sensor found out of date (a settled day changed after issue), and "
                "the documents that resolved them (credit note + new invoice).",
    schema={MONTH: pl.Date(), "flag_id": pl.Int64(), "number": pl.String(), "settlement_date": pl.Date(),
            "reason": pl.String(), "detected_at": pl.String(), "resolved_by": pl.String()},
    partition_by=(MONTH,),
    sort_by=("flag_id",),
    column_docs={MONTH: MONTH_DOC, "number": "The flagged invoice.", "settlement_date": "The day whose data changed.",
                 "reason": "LATE_DATA (the day changed after the invoice was issued).",
                 "resolved_by": "Numbers issued by the run that resolved it; null while open."},
)

UNINVOICED_SESSIONS = TableSpec(
    name="uninvoiced_sessions",
    description="Sessions of the month that no invoice bills, each with a reason code (NOT_PRICED, CREDIT_CDR, NO_CUSTOMER, VAT_RATE_UNKNOWN, NOTHING_TO_BILL).",
    schema={MONTH: pl.Date(), "session_id": pl.String(), "operator_id": pl.String(), "reason_code": pl.String(),
            "reason": pl.String()},
    partition_by=(MONTH,),
    sort_by=("session_id",),
    column_docs={MONTH: MONTH_DOC},
)

TABLES = [INVOICES, INVOICE_LINES, INVOICE_VAT, INVOICE_FLAGS, UNINVOICED_SESSIONS]
