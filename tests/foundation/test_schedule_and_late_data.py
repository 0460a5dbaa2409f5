"""The nightly schedule waits for the day to end everywhere; late records trigger re-settlement."""

import datetime as dt
import json

import dagster as dg

from assets.ingest.ocpi_cdrs.assets import ocpi_cdrs
from pipelines.definitions import defs
from sensors.late_data import late_settlement_dates
from sensors.nightly import latest_settleable_day

ZONES = ("Europe/London", "Europe/Amsterdam", "America/Toronto")
UTC = dt.timezone.utc


def test_day_waits_for_the_westernmost_operator():
    grace = dt.timedelta(hours=2)
    # 25 Oct 2026 ends in Toronto (EDT, UTC-4) at 04:00 UTC on the 26th; +2 h grace = 06:00 UTC.
    assert latest_settleable_day(dt.datetime(2026, 10, 26, 5, 59, tzinfo=UTC), ZONES, grace) == dt.date(2026, 10, 24)
    assert latest_settleable_day(dt.datetime(2026, 10, 26, 6, 0, tzinfo=UTC), ZONES, grace) == dt.date(2026, 10, 25)
    # In winter Toronto is UTC-5: 1 Dec ends at 05:00 UTC, settleable from 07:00 UTC.
    assert latest_settleable_day(dt.datetime(2026, 12, 2, 6, 59, tzinfo=UTC), ZONES, grace) == dt.date(2026, 11, 30)
    assert latest_settleable_day(dt.datetime(2026, 12, 2, 7, 0, tzinfo=UTC), ZONES, grace) == dt.date(2026, 12, 1)


def test_schedule_requests_one_run_per_day_keyed_by_day():
    schedule = defs.resolve_schedule_def("nightly_settlement_schedule")
    context = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 10, 26, 6, 15, tzinfo=UTC),
                                       repository_def=defs.get_repository_def())
    requests = schedule.evaluate_tick(context).run_requests
    assert [(r.partition_key, r.run_key) for r in requests] == [("2026-10-25", "nightly_settlement:2026-10-25")]


def test_late_cdr_marks_its_settlement_day_stale(tmp_warehouse, tmp_landing):
    root = tmp_landing.root_path
    late = {"country_code": "NL", "party_id": "AMS", "id": "LATE-1", "start_date_time": "2026-10-24T10:00:00Z",
            "end_date_time": "2026-10-24T11:00:00Z", "cdr_location": {"id": "X", "country": "NLD"},
            "currency": "EUR", "total_cost": {"excl_vat": 1.5}, "total_energy": 3, "total_time": 1,
            "last_updated": "2026-10-26T09:00:00Z"}
    on_time = dict(late, id="ONTIME-1", start_date_time="2026-10-26T08:00:00Z", end_date_time="2026-10-26T09:00:00Z")
    (root / "ocpi_cdrs" / "2026-10-26").mkdir(parents=True)
    (root / "ocpi_cdrs" / "2026-10-26" / "ams-1.jsonl").write_text(json.dumps(late) + "\n" + json.dumps(on_time) + "\n")
    result = dg.materialize([ocpi_cdrs], resources={"warehouse": tmp_warehouse, "landing": tmp_landing},
                            partition_key="2026-10-26")
    assert result.success
    assert late_settlement_dates(tmp_warehouse, dt.date(2026, 10, 26)) == [dt.date(2026, 10, 24)]
    assert late_settlement_dates(tmp_warehouse, dt.date(2026, 10, 27)) == []
