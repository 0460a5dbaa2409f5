"""bench_bunched_ocpp's bunched copy: every line kept in order, every received_at moved into 09:00-09:02 of its
date in the order of the day, lines of another shape copied as they are, compressed files read."""

from __future__ import annotations

import gzip
import json

from bench.bench_bunched_ocpp import bunched_copy, squeeze

DAY = "2026-11-20"


def _line(stamp: str, number: int) -> bytes:
    envelope = {"received_at": stamp, "charge_point_id": "CP-1", "protocol": "ocpp1.6", "direction": "in",
                "message_id": f"m{number}", "raw": f'[2,"m{number}","Heartbeat",{{}}]'}
    return json.dumps(envelope, separators=(",", ":")).encode() + b"\n"


def test_a_day_is_squeezed_into_two_minutes_in_order():
    assert squeeze("2026-11-20T00:00:00.000000Z") == "2026-11-20T09:00:00.000000Z"
    assert squeeze("2026-11-20T12:00:00.000000Z") == "2026-11-20T09:01:00.000000Z"  # noon: half of the day
    assert squeeze("2026-11-20T23:59:59.999999Z") == "2026-11-20T09:02:00.000000Z"  # to the microsecond
    assert squeeze("2026-11-20T06:00:00.000000Z") == "2026-11-20T09:00:30.000000Z"  # 21,600 s / 720


def test_every_line_is_kept_and_only_the_envelope_stamp_changes(tmp_path):
    landing = tmp_path / "landing"
    folder = landing / "ocpp" / DAY / "17"
    folder.mkdir(parents=True)
    stamps = [f"2026-11-20T{hour:02d}:30:15.250000Z" for hour in range(0, 24, 3)]
    plain = [_line(stamp, n) for n, stamp in enumerate(stamps)] + [b"not json\n", b'{"raw":"[2]"}\n']
    (folder / "csms-a.jsonl").write_bytes(b"".join(plain))
    (folder / "csms-b.jsonl.gz").write_bytes(gzip.compress(_line(stamps[-1], 99)))

    assert bunched_copy(landing, DAY, tmp_path / "bunched") == len(stamps) + 1
    copied = (tmp_path / "bunched" / "ocpp" / DAY / "17" / "csms-a.jsonl").read_bytes().split(b"\n")[:-1]
    assert len(copied) == len(plain) and copied[-2:] == [b"not json", b'{"raw":"[2]"}']
    moved = [json.loads(line)["received_at"] for line in copied[:-2]]
    assert moved == sorted(moved) and all("T09:00:00" <= m[10:] <= "T09:02:00.000000Z" for m in moved)
    assert [json.loads(line)["message_id"] for line in copied[:-2]] == [f"m{n}" for n in range(len(stamps))]
    zipped = (tmp_path / "bunched" / "ocpp" / DAY / "17" / "csms-b.jsonl").read_bytes()
    assert json.loads(zipped)["received_at"] == squeeze(stamps[-1])
