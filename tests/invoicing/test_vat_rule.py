"""One VAT-rate rule: a session's amounts carry the same rate on its statement line and on its invoice line.

The amounts are the engine's (4 decimals) for two sessions of the 5,000-session benchmark day where the former
invoicing rule, (incl - excl) / excl to 0.1 %, read a rounding artefact as the rate (13.1 % and 19.9 %):
- ocpi:CA-MPL:MPL-CDR-0000003330: energy 11.0765 / 12.5164, parking 0.1333 / 0.1507 (13 % GST+PST);
- ocpp:CP-VLT-000006:101006: parking 0.0417 / 0.0500 (20 %).
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest

from assets.invoicing.drafting import DIMENSIONS, NET, RateUndetermined, session_rates
from assets.pricing.tables import AMOUNT_NAMES
from assets.settlement.statements import amount_lines

D = Decimal


def priced(session_id: str, tariff_id: str = "T1", **amounts: tuple[str, str]) -> dict:
    row = {"session_id": session_id, "operator_id": "OP", "currency": "EUR", "tariff_id": tariff_id,
           "error_code": None, "tax_included": "NO"}
    for name in sorted(set(DIMENSIONS) | set(AMOUNT_NAMES)):
        excl, incl = amounts.get(name, ("0", "0"))
        row[f"total_{name}_cost_excl"], row[f"total_{name}_cost_incl"] = D(excl), D(incl)
    row["total_cost_excl"] = sum(D(e) for e, _ in amounts.values())
    row["total_cost_incl"] = sum(D(i) for _, i in amounts.values())
    return row


def statement_rates(row: dict, tariff_json: dict[str, str] | None = None) -> dict[str, Decimal]:
    money = pl.Decimal(18, 4)
    frame = pl.DataFrame([row]).cast({c: money for c in row if c.startswith("total_")})
    lines = amount_lines(frame, tariff_json or {})
    return dict(zip(lines["dimension"].to_list(), lines["vat_rate"].to_list()))


def test_statement_and_invoice_take_the_same_rate():
    gst = priced("ocpi:CA-MPL:MPL-CDR-0000003330", energy=("11.0765", "12.5164"), parking=("0.1333", "0.1507"))
    assert statement_rates(gst) == {"energy": D("13.0000"), "parking": D("13.0000")}
    assert session_rates(gst) == {(D("13.0"), NET): D("11.2098")}  # was 13.0 on 11.0765 and 13.1 on 0.1333

    small = priced("ocpp:CP-VLT-000006:101006", parking=("0.0417", "0.0500"))
    assert statement_rates(small) == {"parking": D("20.0000")}
    assert session_rates(small) == {(D("20.0"), NET): D("0.0417")}  # was 19.9


def test_the_tariffs_own_rate_wins_where_it_fits_in_both():
    # 0.0417 / 0.0500 fits 20 % and also 19.9 %; a tariff that states 19.9 % on its parking fee decides.
    tariff = ('{"id": "T1", "currency": "EUR", "elements": [{"price_components": '
              '[{"type": "PARKING_TIME", "price": 1.0, "vat": 19.9, "step_size": 60}]}]}')
    row = priced("s1", parking=("0.0417", "0.0500"))
    assert statement_rates(row, {"T1": tariff}) == {"parking": D("19.9000")}
    from assets.settlement.vat import tariff_rates
    assert session_rates(row, tariff_vat=tariff_rates({"T1": tariff})) == {(D("19.9"), NET): D("0.0417")}


def test_an_amount_no_rate_fits_is_not_invoiced():
    row = priced("s2", energy=("5.0000", "4.0000"))  # incl below excl: no rate
    assert statement_rates(row) == {"energy": None}
    with pytest.raises(RateUndetermined, match="energy amount 5.0000"):
        session_rates(row)
