"""Where the invoice PDF puts things: bordered table cells, amounts right-aligned inside the cell padding, long
descriptions set smaller until they fit, rows that cross the bottom margin on a new page (read back with pypdf)."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

from assets.invoicing.pdf import render_pdf

MM = 72 / 25.4  # PDF points per millimetre
WIDTHS = (8, 112, 22, 12, 18, 18)  # the table's columns (mm), as the renderer lays them out
LEFT, PADDING = 10, 1  # fpdf2's default left margin and cell padding (mm)
LONG = "session ocpi:" + "x" * 70 + " at a long location name"


def _payload(lines: int) -> dict:
    rows = [{"line_no": n, "description": LONG if n == 1 else f"session ocpi:s-{n}", "quantity": "12.345",
             "unit": "kWh", "vat_rate": "20.0", "net": f"{n}.00", "vat": f"{n * 0.2:.2f}", "gross": f"{n * 1.2:.2f}"}
            for n in range(1, lines + 1)]
    return {"issuer": {"id": "GB-VLT", "name": "Voltline UK"},
            "customer": {"id": "cust-1", "name": "Customer 1", "kind": "direct"},
            "currency": "GBP", "period_start": "2026-10-01", "period_end": "2026-10-31", "contract": None,
            "vat_treatment": "reverse_charge", "lines": rows,
            "vat_summary": [{"vat_rate": "20.0", "net": "1.00", "vat": "0.20", "gross": "1.20"}],
            "totals": {"net": "1.00", "vat": "0.20", "gross": "1.20"}}


def _fragments(content: bytes) -> list[tuple[int, float, float, float, str]]:
    """(page, x, y, font size, text) of every text drawn."""
    found = []
    for number, page in enumerate(PdfReader(io.BytesIO(content)).pages):
        page.extract_text(visitor_text=lambda text, cm, tm, font, size, page=number: found.append(
            (page, tm[4], tm[5], size, text)) if text.strip() else None)
    return found


def _rectangles(content: bytes) -> list[list[tuple[float, ...]]]:
    """The rectangles (x, y, w, h in points) of each page."""
    return [[tuple(map(float, r)) for r in re.findall(rb"([\d.]+) ([\d.]+) ([\d.]+) (-?[\d.]+) re",
                                                       page.get_contents().get_data())]
            for page in PdfReader(io.BytesIO(content)).pages]


def test_amounts_sit_right_aligned_in_bordered_cells_and_long_text_is_set_smaller():
    from fpdf import FPDF

    content = render_pdf("GB-VLT-INV-000001", "invoice", "2026-11-01", _payload(3))
    rects = _rectangles(content)[0]
    assert len(rects) == 6 * 4  # the head row and three lines, a border per cell
    edges = [LEFT]
    for width in WIDTHS:
        edges.append(edges[-1] + width)
    assert sorted({round(x / MM, 2) for x, *_ in rects}) == edges[:-1]
    assert {round(h / MM, 2) for *_, h in rects} == {-5.0, -4.5}  # head row 5 mm, lines 4.5 mm
    metrics = FPDF()
    texts = _fragments(content)
    for n in (1, 2, 3):
        net = next(f for f in texts if f[4].strip() == f"{n}.00")
        metrics.set_font("Helvetica", size=net[3])
        right = (net[1] / MM) + metrics.get_string_width(f"{n}.00")
        assert abs(right - (edges[5] - PADDING)) < 0.01, (n, right)
    description = next(f for f in texts if f[4].strip().startswith("session ocpi:xxx"))
    assert 4.5 < description[3] < 7  # set smaller than the table's 7 pt, in half points, until it fits
    metrics.set_font("Helvetica", size=description[3])
    assert metrics.get_string_width(LONG) <= WIDTHS[1] - 2 * PADDING
    metrics.set_font("Helvetica", size=description[3] + 0.5)
    assert metrics.get_string_width(LONG) > WIDTHS[1] - 2 * PADDING
    assert abs(description[1] / MM - (edges[1] + PADDING)) < 0.01  # left-aligned inside the padding
    others = [f for f in texts if f[4].strip().startswith("session ocpi:s-")]
    assert {f[3] for f in others} == {7}
    text = "".join(f[4] for f in texts)
    for expected in ("INVOICE GB-VLT-INV-000001", "Customer: Customer 1 (cust-1, direct)", "VAT reverse charge",
                     "Total gross: 1.20 GBP"):
        assert expected in text


def test_rows_that_reach_the_bottom_margin_continue_on_a_new_page():
    content = render_pdf("GB-VLT-INV-000002", "invoice", "2026-11-01", _payload(120))
    rects = _rectangles(content)
    assert len(rects) == 3 and sum(map(len, rects)) == 6 * 121
    page_height = 297 * MM
    for page in rects:
        lowest = min(y + h for _, y, _, h in page)  # PDF y grows upwards; h is negative
        assert lowest >= 15 * MM - 0.01  # above the 15 mm bottom margin
    second_page_top = max(y for _, y, _, _ in rects[1])
    assert abs((page_height - second_page_top) / MM - 10) < 0.01  # rows continue at the top margin
    lines = [f for f in _fragments(content) if f[4].strip() == "120.00"]
    assert lines and lines[0][0] == 2  # the last line is on the third page


def test_text_width_is_fpdf2s_own_string_width():
    """The renderer measures text from the core font's width table (fpdf2's `get_string_width` shapes the text on
    every call); the widths, and so the layout and the bytes, must be fpdf2's to the last bit."""
    from fpdf import FPDF

    from assets.invoicing.pdf import _latin, _text_width

    pdf = FPDF(unit="mm")
    texts = ["", " ", "12.345 kWh", "GBP 1,234.56", LONG, _latin("Ünïcødé ñ €uro 中文 عربي (a) [b] \\c"), "iiiWWW" * 40]
    for style in ("", "B"):
        for size in (4.5, 5, 6.5, 7, 9, 10, 16):
            pdf.set_font("Helvetica", style, size)
            for text in texts:
                assert _text_width(pdf, text) == pdf.get_string_width(text), (style, size, text)
    pdf.set_char_spacing(1)  # outside what the documents use: fpdf2 measures it
    assert _text_width(pdf, LONG) == pdf.get_string_width(LONG)
