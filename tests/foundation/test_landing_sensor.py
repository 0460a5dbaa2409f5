"""The landing-file sensor asks for each changed day once."""

import json

import dagster as dg

from sensors.landing_files import build_landing_sensor


def test_new_and_changed_days_are_requested_once(tmp_landing):
    sensor = build_landing_sensor("ocpi_cdr_files", "ocpi_cdrs", ["ocpi_cdrs"])
    day = tmp_landing.root_path / "ocpi_cdrs" / "2026-10-25"
    day.mkdir(parents=True)
    (day / "a.jsonl").write_text("{}\n")

    def tick(cursor):
        context = dg.build_sensor_context(cursor=cursor, resources={"landing": tmp_landing})
        result = sensor(context)
        return [(r.partition_key, r.run_key) for r in result.run_requests], result.cursor

    first, cursor = tick(None)
    assert [p for p, _ in first] == ["2026-10-25"]
    again, cursor = tick(cursor)
    assert again == []  # nothing changed: nothing asked
    (day / "b.jsonl").write_text("{}\n")
    (tmp_landing.root_path / "ocpi_cdrs" / "2026-10-26").mkdir()
    (tmp_landing.root_path / "ocpi_cdrs" / "2026-10-26" / "c.jsonl").write_text("{}\n")
    changed, cursor = tick(cursor)
    assert [p for p, _ in changed] == ["2026-10-25", "2026-10-26"]
    assert changed[0][1] != first[0][1]  # a new run key for the changed day
    assert sorted(json.loads(cursor)) == ["2026-10-25", "2026-10-26"]
