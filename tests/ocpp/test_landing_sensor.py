"""The landing sensor requests only changed landing dates, with run keys that make re-triggers harmless."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import dagster as dg

from sensors.ocpp_landing import ocpp_landing_sensor
from tests.ocpp.factory import FrameScript


def _evaluate(landing, cursor=None):
    context = dg.build_sensor_context(cursor=cursor, resources={"landing": landing})
    return ocpp_landing_sensor(context)


def test_sensor_requests_changed_dates_only(tmp_landing):
    script = FrameScript("CP-S", "ocpp1.6", datetime(2026, 11, 20, 23, 59, 58, tzinfo=UTC))
    script.call("Heartbeat", {}, {"currentTime": "2026-11-20T23:59:59Z"})  # in at 23:59:59, out at 00:00:00
    script.write(tmp_landing.root_path)

    first = _evaluate(tmp_landing)
    assert [r.partition_key for r in first.run_requests] == ["2026-11-20", "2026-11-21"]
    keys = [r.run_key for r in first.run_requests]
    assert all(key.startswith(f"ocpp_landing:{r.partition_key}:") for key, r in zip(keys, first.run_requests))

    # Same files again: nothing to do; re-evaluating without the cursor yields the very same run keys,
    # which Dagster de-duplicates.
    assert _evaluate(tmp_landing, first.cursor).run_requests in (None, [])
    assert [r.run_key for r in _evaluate(tmp_landing).run_requests] == keys

    # A frame appended on the second day changes that day's fingerprint only.
    later = FrameScript("CP-S", "ocpp1.6", datetime(2026, 11, 21, 6, 0, tzinfo=UTC))
    later.call("Heartbeat", {}, {"currentTime": "2026-11-21T06:00:01Z"})
    later.write(tmp_landing.root_path)
    third = _evaluate(tmp_landing, first.cursor)
    assert [r.partition_key for r in third.run_requests] == ["2026-11-21"]
    assert third.run_requests[0].run_key != keys[1]
    assert set(json.loads(third.cursor)) == {"2026-11-20", "2026-11-21"}


def test_folders_that_are_not_partitions_are_not_requested(tmp_landing):
    stray = tmp_landing.root_path / "ocpp" / "1970-01-01" / "00" / "gw.jsonl"
    stray.parent.mkdir(parents=True)
    stray.write_text("{}\n")
    assert _evaluate(tmp_landing).run_requests in (None, [])
