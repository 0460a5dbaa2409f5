"""The kernels' UTC-offset tables agree with zoneinfo, including 30-minute and Ramadan-suspended DST."""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tariff_engine.compile import zone_transitions

START = datetime(2023, 1, 1, tzinfo=timezone.utc)
END = datetime(2025, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Australia/Lord_Howe", "Africa/Casablanca", "America/Santiago",
                                  "America/St_Johns", "Asia/Kolkata", "UTC"])
def test_transition_table_matches_zoneinfo(zone):
    info = ZoneInfo(zone)
    first, last = (int(t.timestamp() * 1000) for t in (START, END))
    instants, offsets = zone_transitions(info, first, last)
    moment = START
    while moment < END:
        ms = int(moment.timestamp() * 1000)
        expected = moment.astimezone(info).utcoffset() // timedelta(milliseconds=1)
        assert offsets[bisect.bisect_right(instants, ms) - 1] == expected, moment
        moment += timedelta(hours=5, minutes=7)
    for instant in instants[1:]:  # each transition is exact to the second
        before = datetime.fromtimestamp((instant - 1000) / 1000, timezone.utc).astimezone(info).utcoffset()
        after = datetime.fromtimestamp(instant / 1000, timezone.utc).astimezone(info).utcoffset()
        assert before != after
