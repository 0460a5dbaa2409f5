"""bench_shard_split's landing split: every line of every OCPP file of the date goes to exactly one shard, in
order, all the lines of one charge point to the same shard; compressed files are read."""

from __future__ import annotations

import gzip
import json
import zlib

from bench.bench_shard_split import shard_of_line, split_landing

DAY = "2026-11-20"


def _line(charge_point: str, number: int) -> bytes:
    envelope = {"received_at": f"2026-11-20T00:00:{number:02d}Z", "charge_point_id": charge_point,
                "protocol": "ocpp1.6", "direction": "in", "message_id": f"m{number}",
                "raw": f'[2,"m{number}","Heartbeat",{{}}]'}
    return json.dumps(envelope, separators=(",", ":")).encode() + b"\n"


def test_each_line_goes_to_the_shard_of_its_charge_point_and_none_is_lost(tmp_path):
    landing = tmp_path / "landing"
    folder = landing / "ocpp" / DAY / "00"
    folder.mkdir(parents=True)
    points = [f"CP-{n:03d}" for n in range(12)]
    plain = [_line(points[n % 12], n) for n in range(40)] + [b"not json at all\n", b'{"raw":"[2]"}\n']
    (folder / "csms-a.jsonl").write_bytes(b"".join(plain))
    # A U+2028 inside a value is part of its line (the split is on b"\n" only).
    zipped = [_line(points[n % 5], n).replace(b"Heartbeat", "Heart\u2028beat".encode()) for n in range(10)]
    (folder / "csms-b.jsonl.gz").write_bytes(gzip.compress(b"".join(zipped)))
    # another date is not split
    (landing / "ocpp" / "2026-11-21").mkdir(parents=True)
    (landing / "ocpp" / "2026-11-21" / "x.jsonl").write_bytes(_line("CP-999", 1))

    roots = split_landing(landing, DAY, 3, tmp_path / "shards")

    assert [root.name for root in roots] == ["shard-0", "shard-1", "shard-2"]
    for name, lines in (("csms-a.jsonl", plain), ("csms-b.jsonl", zipped)):
        shards = [(root / "ocpp" / DAY / "00" / name).read_bytes().split(b"\n")[:-1] for root in roots]
        # every line once, and each shard keeps the file's order
        assert sorted(line for shard in shards for line in shard) == sorted(line.rstrip(b"\n") for line in lines)
        for index, shard in enumerate(shards):
            assert shard == [line.rstrip(b"\n") for line in lines if shard_of_line(line, 3) == index]
    # a charge point's lines are all in the shard its id hashes to; lines without one are in shard 0
    for index, root in enumerate(roots):
        for line in (root / "ocpp" / DAY / "00" / "csms-a.jsonl").read_bytes().split(b"\n")[:-1]:
            if b"charge_point_id" in line:
                assert zlib.crc32(json.loads(line)["charge_point_id"].encode()) % 3 == index
            else:
                assert index == 0
    assert not any((root / "ocpp" / "2026-11-21").exists() for root in roots)
    assert not [path for root in roots for path in root.rglob("*.gz")]
