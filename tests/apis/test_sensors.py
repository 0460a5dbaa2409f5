"""API polling and webhook sensors: the partitions they request and run keys that make re-triggers harmless."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from assets.ingest import eevion, platform
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource
from sensors import api_polling, webhooks


def test_poll_run_keys_are_stable_within_a_slot():
    at = lambda text: dt.datetime.fromisoformat(text)  # noqa: E731
    first = api_polling.poll_request(at("2026-11-21T10:00:05+00:00"), 900, "platform")
    same_slot = api_polling.poll_request(at("2026-11-21T10:14:59+00:00"), 900, "platform")
    next_slot = api_polling.poll_request(at("2026-11-21T10:15:00+00:00"), 900, "platform")
    assert first.partition_key == "2026-11-21" and first.run_key == same_slot.run_key != next_slot.run_key
    # a local time just after midnight elsewhere still polls the UTC landing day
    assert api_polling.poll_request(at("2026-11-22T00:30:00+01:00"), 900, "eevion").partition_key == "2026-11-21"


def test_platform_polling_sensor_requests_today():
    request = api_polling.platform_api_polling(dg.build_sensor_context())
    assert request.partition_key == dt.datetime.now(dt.timezone.utc).date().isoformat()
    assert request.run_key.startswith(f"platform-poll:{request.partition_key}:")


def test_webhook_sensor_requests_changed_days_once(tmp_landing: LandingZoneResource):
    tmp_landing.write_file("eevion/webhooks/2026-11-21/abc-12345678.json", b'{"sessionId": "abc"}')
    context = dg.build_sensor_context(resources={"landing": tmp_landing})
    first = webhooks.eevion_webhook_arrivals(context)
    assert [r.partition_key for r in first.run_requests] == ["2026-11-21"]
    assert first.run_requests[0].asset_selection == [dg.AssetKey("eevion_sessions")]

    again = webhooks.eevion_webhook_arrivals(dg.build_sensor_context(resources={"landing": tmp_landing}, cursor=first.cursor))
    assert again.run_requests == []

    tmp_landing.write_file("eevion/webhooks/2026-11-21/def-87654321.json", b'{"sessionId": "def"}')
    third = webhooks.eevion_webhook_arrivals(dg.build_sensor_context(resources={"landing": tmp_landing}, cursor=first.cursor))
    assert [r.partition_key for r in third.run_requests] == ["2026-11-21"]
    assert third.run_requests[0].run_key != first.run_requests[0].run_key


def test_definitions_load_together(tmp_path):
    merged = dg.Definitions.merge(
        platform.defs, eevion.defs, api_polling.defs, webhooks.defs,
        dg.Definitions(resources={"warehouse": WarehouseResource(root=str(tmp_path / "w")),
                                  "landing": LandingZoneResource(root=str(tmp_path / "l"))}))
    dg.Definitions.validate_loadable(merged)
    job = merged.resolve_job_def("platform_api_ingest")
    assert {n.name for n in job.nodes} >= {"platform_cdr_pages", "platform_cdrs", "platform_tariffs"}
    snapshot_job = merged.resolve_job_def("platform_daily_snapshot")
    assert {n.name for n in snapshot_job.nodes} == {"platform_tariff_pages", "platform_electricity_rate_pages",
                                                    "platform_tariffs", "electricity_rates"}
    schedule = merged.resolve_schedule_def("eevion_daily_report_schedule")
    assert schedule.cron_schedule == "30 1 * * *"
    tick = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 11, 21, 1, 30, tzinfo=dt.timezone.utc),
                                     repository_def=merged.get_repository_def())
    # the tick lands into today's folder; the report asset then asks for the day before
    assert [r.partition_key for r in schedule.evaluate_tick(tick).run_requests] == ["2026-11-21"]


def test_secrets_are_bound_from_the_environment():
    assert platform.defs.resources["platform_api"]._resolved_config_dict["api_token"] == {"env": "PLATFORM_API_TOKEN"}
    assert eevion.defs.resources["eevion_api"]._resolved_config_dict["api_key"] == {"env": "EEVION_API_KEY"}
