"""The export schedule asks for the newest settleable date and the two before it, once per date."""

import datetime as dt

import dagster as dg

from assets.export.assets import interval_export_schedule


def test_schedule_requests_recent_dates_with_stable_run_keys(monkeypatch):
    monkeypatch.setenv("CHARGELEDGER_OPERATOR_ZONES", "Europe/London,America/Toronto")
    monkeypatch.setenv("CHARGELEDGER_SETTLEMENT_LATENESS_HOURS", "2")
    # 07:45 UTC on 27 Oct: 26 Oct ended in Toronto at 04:00 UTC (+2 h grace), so it is settleable.
    tick = dt.datetime(2026, 10, 27, 7, 45, tzinfo=dt.timezone.utc)
    with dg.build_schedule_context(scheduled_execution_time=tick) as context:
        requests = interval_export_schedule(context)
    assert [(r.partition_key, r.run_key) for r in requests] == [
        ("2026-10-26", "interval_export:2026-10-26@2026-10-26"),
        ("2026-10-25", "interval_export:2026-10-25@2026-10-26"),
        ("2026-10-24", "interval_export:2026-10-24@2026-10-26")]
    # 05:45 UTC: Toronto's 26 Oct (+ grace) has not ended yet, so the newest date is still 25 Oct.
    with dg.build_schedule_context(scheduled_execution_time=tick.replace(hour=5)) as context:
        assert [r.partition_key for r in interval_export_schedule(context)] == ["2026-10-25", "2026-10-24", "2026-10-23"]
