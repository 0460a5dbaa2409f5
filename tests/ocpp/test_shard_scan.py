"""The byte scan that lets a shard skip other shards' lines undecoded (``shard_scan``, ``Shard.read``): it may
only skip a line that ``line_owners`` (the rule on the decoded text) gives to another shard."""

from __future__ import annotations

import os
import zlib

import numpy as np
import polars as pl
import pytest

from assets.ingest.common.files import LINES, RecordReader, classify
from assets.ingest.ocpp.json_bytes import column_buffer
from assets.ingest.ocpp.shard_scan import crc32, line_shards, string_crcs
from assets.ingest.ocpp.shards import _CHARGE_POINT_TEXT, Shard, _shards_of, line_owners, shard_of


def _envelope(charge_point: bytes, before: bytes = b"", colon: bytes = b":") -> bytes:
    return (b'{"received_at":"2026-11-20T10:00:00.000000Z",' + before + b'"charge_point_id"' + colon + b'"'
            + charge_point + b'","protocol":"ocpp1.6","direction":"in","message_id":"m1","raw":"[2,\\"m1\\",'
            b'\\"Heartbeat\\",{}]"}')


# Lines the scan places, lines it must leave to the text rule, and lines with no charge point at all.
HOSTILE = [
    _envelope(b"CP-001"),
    _envelope(b"CP-002", colon=b' \t: '),
    _envelope(b""),  # an empty charge point is read (shard of "")
    _envelope(b"CP-\\u0041"),  # an escape: the text rule does not read it either (shard 0)
    _envelope("CP-é".encode()),  # non-ASCII: left to the text rule, which reads it
    _envelope(b"CP-\xff\xfe"),  # not UTF-8 in the value: decoded with replacement first
    _envelope(b"CP-003", before=b'"note":"\xff",'),  # not UTF-8 elsewhere in the line
    _envelope(b"CP-004", colon="\u00a0:".encode()),  # a Unicode blank the regex's \s takes
    _envelope(b"CP-005", colon="\u2028:".encode()),
    _envelope(b"CP-006", before=b'"charge_point_id":12,'),  # the first key has no string: the second is read
    _envelope(b"CP-007", before=b'"x":"\\"charge_point_id\\":\\"CP-999\\"",'),  # the key inside a string
    _envelope(b"CP-008", before=b'"charge_point_id" :"CP-\\"x",'),  # the first value has an escape
    b'{"charge_point_id":"CP-009',  # no closing quote
    b'{"charge_point_id"',
    b'"charge_point_id":"CP-010"',
    b"not json at all",
    b"",
    b"   ",
    b'{"a":1}\r',
    b"x" * 900,  # over the reader's limit below: rejected, in shard 0
] + [_envelope(f"CP-{n:03d}".encode()) for n in range(11, 60)]


def _reader() -> RecordReader:
    return RecordReader(source="ocpp_frame", layouts=(LINES,), batch_size=7, max_record_bytes=800)


def _flat(batches) -> tuple[list[str], list[str], list]:
    refs, lines, rejected = [], [], []
    for batch in batches:
        refs += batch.refs.to_list()
        lines += batch.lines.to_list()
        rejected += [(r.record_ref, r.reason_code) for r in batch.rejected]
    return refs, lines, rejected


def test_crc32_is_zlibs():
    for size in (0, 1, 3, 64, 1000):
        for _ in range(20):
            data = os.urandom(size)
            assert crc32(np.frombuffer(data, np.uint8), 0, size) == zlib.crc32(data)


def _by_text_rule(batches, shard: Shard) -> tuple[list[str], list[str], list]:
    """The shard's lines decided on their decoded text (``line_owners``), rejections in shard 0: what ``read`` gives."""
    refs, lines, rejected = _flat(batches)
    owners = line_owners(pl.Series("line", lines, dtype=pl.String()), shard.count).tolist()
    mine = [n for n, owner in enumerate(owners) if owner == shard.index]
    return [refs[n] for n in mine], [lines[n] for n in mine], rejected if shard.index == 0 else []


@pytest.mark.parametrize("count", [2, 3, 5])
def test_a_shard_reads_exactly_the_lines_the_text_rule_gives_it(tmp_path, count):
    path = tmp_path / "day.jsonl"
    path.write_bytes(b"\n".join(HOSTILE) + b"\n")
    file = classify(path, tmp_path)
    reader = _reader()
    everything = []
    for index in range(count):
        shard = Shard(index, count)
        by_bytes = _flat(shard.read(reader, [file]))
        assert by_bytes == _by_text_rule(reader.line_batches([file]), shard)
        # the other shards' lines are dropped before they are decoded, whether the bytes place them or not
        decoded = _flat(reader.line_batches([file], wanted=shard.mine))[0]
        assert decoded == by_bytes[0] and len(decoded) < len(_flat(reader.line_batches([file]))[0])
        everything += by_bytes[0]
    # every line with text is in exactly one shard; the two blank lines and the oversized one are in none
    assert sorted(everything, key=lambda ref: int(ref.split(":")[1])) == [
        f"day.jsonl:{n}" for n in range(1, len(HOSTILE) + 1) if HOSTILE[n - 1].strip() and n != 20]


def test_the_scan_places_plain_lines_and_leaves_the_rest():
    data = b"\n".join(HOSTILE)
    newlines = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
    starts = np.concatenate(([0], newlines + 1)).astype(np.int64)
    ends = np.append(starts[1:] - 1, len(data)).astype(np.int64)
    placed = line_shards(np.frombuffer(data, np.uint8), starts, ends, 3).tolist()
    assert placed[0] == shard_of("CP-001", 3) and placed[1] == shard_of("CP-002", 3) and placed[2] == shard_of("", 3)
    assert placed[3:6] == [-1, -1, -1]  # escape, non-ASCII, not UTF-8 in the value
    assert placed[6] == shard_of("CP-003", 3)  # other bytes of the line do not matter
    assert placed[7:10] == [-1] * 3  # Unicode blanks, a first key without a string
    assert placed[10] == shard_of("CP-007", 3)  # an escaped key inside a string is not the key
    assert placed[11:14] == [-1] * 3  # an escape in the first value, no closing quote, no value
    assert placed[14] == shard_of("CP-010", 3)  # not JSON, but the text rule reads it too
    assert placed[15:19] == [-1] * 4
    assert placed[20:] == [shard_of(f"CP-{n:03d}", 3) for n in range(11, 60)]


@pytest.mark.parametrize("count", [2, 3, 5])
def test_line_owners_are_the_text_rule(tmp_path, count):
    """``Shard.lines`` reads the placeable lines from their bytes and only the rest by the regex: every decoded
    line still gets the shard of the regex's first match (shard 0 without one)."""
    path = tmp_path / "day.jsonl"
    path.write_bytes(b"\n".join(HOSTILE) + b"\n")
    lines = pl.concat([batch.lines for batch in _reader().line_batches([classify(path, tmp_path)])])
    by_rule = [0 if value is None else shard_of(value, count)
               for value in lines.str.extract(_CHARGE_POINT_TEXT, 1).to_list()]
    assert len(lines) == len(HOSTILE) - 3  # two blank lines and the oversized one are not lines
    assert line_owners(lines, count).tolist() == by_rule
    assert line_owners(pl.Series("line", [], dtype=pl.String()), count).tolist() == []


def test_string_crcs_are_zlibs_on_utf8():
    values = ["", "CP-001", "CP-é", "ステーション", "a\x00b", "x" * 300]
    assert string_crcs(*column_buffer(pl.Series(values))).tolist() == [zlib.crc32(v.encode()) for v in values]
    charge_points = pl.Series(["CP-é", None, "CP-001", "CP-é"])
    expected = [shard_of("CP-é", 5), 0, shard_of("CP-001", 5), shard_of("CP-é", 5)]
    assert _shards_of(charge_points, 5).to_list() == expected
