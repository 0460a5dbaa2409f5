"""`priced_sessions` and `reconciliation` work batch by batch of sessions: any batch size gives the rows and
figures of the whole day, on the pricing tests' hand-built day (ten sessions, every pricing path)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from assets.pricing.priced import price_day
from assets.pricing.tables import PRICED_SESSIONS
from assets.reconciliation.build import Tolerances, reconcile_day
from tests.pricing.conftest import DAY
from tests.pricing.test_priced_sessions import day  # noqa: F401  (fixture)
from tests.reconciliation.test_reconciliation_asset import _links


@pytest.mark.parametrize("size", [1, 3, 4])
def test_any_batch_size_prices_and_reconciles_like_the_whole_day(day, size):  # noqa: F811
    whole, batched = price_day(day, DAY, sessions_per_batch=10_000), price_day(day, DAY, sessions_per_batch=size)
    assert batched.table.equals(whole.table)
    assert batched.metadata == whole.metadata and batched.sessions_in == whole.sessions_in == 10
    rows = {r["session_id"]: r for r in batched.table.iter_rows(named=True)}
    # 12.345 kWh x 0.30 + 1.00 flat, VAT 20 %; the CDR's own tariff, 1.5 h x 2.00, VAT 10 %.
    assert (rows["ocpp:CP-1:1"]["total_cost_excl"], rows["ocpp:CP-1:1"]["total_cost_incl"]) == (D("4.7035"), D("5.6442"))
    assert (rows["ocpi:NL-ABC:c1"]["total_cost_incl"], rows["ocpi:NL-ABC:c1"]["period_count"]) == (D("3.3000"), 2)
    assert rows["ocpi:NL-ABC:c1-credit"]["error_code"] == "CREDIT_CDR"

    day.write_partition(PRICED_SESSIONS, whole.table, settlement_date=DAY)
    _links(day)
    tolerances = Tolerances()
    whole_rec = reconcile_day(day, DAY, tolerances, sessions_per_batch=10_000)
    batched_rec = reconcile_day(day, DAY, tolerances, sessions_per_batch=size)
    assert batched_rec.table.equals(whole_rec.table)
    assert batched_rec.metadata == whole_rec.metadata and batched_rec.sessions_in == 10
    # Seven comparisons against each session's own record, four against each of c1's two linked records.
    assert batched_rec.table.height == 10 * 7 + 2 * 4
