"""The monthly schedule asks for the previous month on the 1st, once its last day is settled everywhere."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from sensors.monthly import month_to_close, monthly_invoicing_schedule

UTC = dt.timezone.utc


def test_month_is_closed_after_the_last_zone_settles_its_last_day(monkeypatch):
    monkeypatch.delenv("CHARGELEDGER_OPERATOR_ZONES", raising=False)
    monkeypatch.delenv("CHARGELEDGER_SETTLEMENT_LATENESS_HOURS", raising=False)
    # 30 September ends in Toronto (EDT, UTC-4) at 04:00 UTC on 1 October; + 2 h grace + 1 h for the nightly run.
    assert month_to_close(dt.datetime(2026, 10, 1, 6, 45, tzinfo=UTC)) is None
    assert month_to_close(dt.datetime(2026, 10, 1, 7, 45, tzinfo=UTC)) == "2026-09-01"
    assert month_to_close(dt.datetime(2026, 10, 2, 0, 45, tzinfo=UTC)) == "2026-09-01"


def test_schedule_requests_the_month_once_by_run_key(monkeypatch):
    monkeypatch.delenv("CHARGELEDGER_OPERATOR_ZONES", raising=False)
    context = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 11, 1, 9, 45, tzinfo=UTC))
    request = monthly_invoicing_schedule(context)
    assert (request.partition_key, request.run_key) == ("2026-10-01", "monthly_invoicing:2026-10-01")
    early = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 11, 1, 0, 45, tzinfo=UTC))
    assert isinstance(monthly_invoicing_schedule(early), dg.SkipReason)
