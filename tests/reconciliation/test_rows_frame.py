"""The comparison rows become a frame through the amounts' decimal text (`build._rows_frame`): the same frame, to
the last digit and null, as polars' own conversion of the Python Decimals."""

from decimal import Decimal

import polars as pl

from assets.reconciliation.build import COLUMNS, _rows_frame
from assets.reconciliation.tables import PARTITION, RECONCILIATION

AMOUNTS = [Decimal("1.23455"), Decimal("-1.23455"), Decimal("0.00025"), Decimal("0.00015"), Decimal("1E+3"),
           Decimal("1.2E-7"), Decimal("0E-10"), Decimal("-0"), Decimal("99999999999999.9999"),
           Decimal("100000000000000"), Decimal("1E+20"), None, Decimal("12.5")]


def _rows() -> list[tuple]:
    rows = []
    for index, amount in enumerate(AMOUNTS):
        theirs = AMOUNTS[-1 - index]
        difference = None if amount is None or theirs is None else amount - theirs
        rows.append((f"s{index}", "ocpp", "record", f"s{index}", "total_incl", "EUR", amount, theirs, difference,
                     "AGREES", None if index % 2 else "why"))
    return rows


def test_amounts_round_and_overflow_as_polars_converts_decimals():
    schema = {c: t for c, t in RECONCILIATION.schema.items() if c != PARTITION}
    rows = _rows()
    expected = pl.DataFrame(dict(zip(COLUMNS, map(list, zip(*rows)))), schema=schema, strict=False)
    got = _rows_frame(rows, schema)
    assert got.equals(expected, null_equal=True) and got.schema == expected.schema
    ours = got["ours"].to_list()
    # half to even at the fourth place; beyond DECIMAL(18,4) is null, as before
    assert ours[:4] == [Decimal("1.2346"), Decimal("-1.2346"), Decimal("0.0002"), Decimal("0.0002")]
    assert ours[4] == Decimal("1000") and ours[9] is None and ours[10] is None and ours[11] is None
