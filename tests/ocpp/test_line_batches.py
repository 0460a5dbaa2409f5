"""Landing lines read as columns (``RecordReader.line_batches``) and the compact key set of the OCPP parser.

``line_batches`` is what ``ocpp_messages`` reads: it must give exactly the records, rejections and batch
cuts of the row reader ``RecordReader.batches`` (quarantine order and ``rows in`` depend on them), whatever
the read and block sizes.
"""

from __future__ import annotations

import gzip

import numpy as np
import pytest

import assets.ingest.common.files as files_module
from assets.ingest.common.files import LINES, RecordReader, classify
from assets.ingest.common.keyset import KeySet, KeyTable

# 1: plain; 2: blank; 3: CRLF; 4: ASCII whitespace only; 5: not UTF-8; 6: 40 bytes (over the limit of 30);
# 7: U+2028 and a no-break space inside (not line ends, not stripped); 8: last line, no newline, between a form
# feed and a vertical tab (both stripped, as bytes.strip() strips them).
LINES_BYTES = (b'{"a":1}\n'
               b"\n"
               b'{"b":2}\r\n'
               b" \t\x0b\x0c \r\n"
               b'{"c":"\xff\xfe"}\n'
               + b"x" * 40 + b"\n"
               + ' {"d":"\u2028\u00a0"} '.encode() + b"\n"
               b'\x0c{"e":5}\x0b')


def _reader(batch_size: int = 10_000) -> RecordReader:
    return RecordReader(source="ocpp_frame", layouts=(LINES,), batch_size=batch_size, max_record_bytes=30)


def _landed(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return classify(path, tmp_path)


def _as_rows(batches) -> list[tuple[list[str], list[str], list]]:
    return [(b.refs.to_list(), b.lines.to_list(), b.rejected) for b in batches]


def _row_reader_rows(reader, files) -> list[tuple[list[str], list[str], list]]:
    return [([r.ref for r in b.records], [r.text for r in b.records], b.rejected) for b in reader.batches(files)]


def test_lines_are_cut_decoded_and_rejected_like_records(tmp_path):
    file = _landed(tmp_path, "a.jsonl", LINES_BYTES)
    [batch] = list(_reader().line_batches([file]))
    assert batch.refs.to_list() == ["a.jsonl:1", "a.jsonl:3", "a.jsonl:5", "a.jsonl:7", "a.jsonl:8"]
    assert batch.lines.to_list() == ['{"a":1}', '{"b":2}', '{"c":"\ufffd\ufffd"}', '{"d":"\u2028\u00a0"}', '{"e":5}']
    assert [(r.record_ref, r.reason_code, r.raw_payload) for r in batch.rejected] == [
        ("a.jsonl:6", "RECORD_TOO_LARGE", "x" * 40)]
    assert batch.size == 6  # five records + one rejection; the two blank lines are not records


@pytest.mark.parametrize(("batch_size", "read_chunk", "block_bytes"),
                         [(1, 7, 16), (2, 64, 1), (3, 5, 1000), (10_000, 7, 16), (10_000, 1 << 20, 8 << 20)])
def test_same_records_and_batch_cuts_as_the_row_reader(tmp_path, monkeypatch, batch_size, read_chunk, block_bytes):
    monkeypatch.setattr(files_module, "READ_CHUNK", read_chunk)
    monkeypatch.setattr(files_module, "LINE_BLOCK_BYTES", block_bytes)
    landed = [
        _landed(tmp_path, "a.jsonl", LINES_BYTES),
        _landed(tmp_path, "b.jsonl", LINES_BYTES + b"\n" + b"y" * 95 + b"\n" + b"z" * 31),  # oversized, spanning reads
        _landed(tmp_path, "c.jsonl.gz", gzip.compress(LINES_BYTES * 3)),
        _landed(tmp_path, "d.txt", b"not a landing file"),
        _landed(tmp_path, "e.jsonl", b""),
    ]
    reader = _reader(batch_size)
    expected = _row_reader_rows(reader, landed)
    assert _as_rows(reader.line_batches(landed)) == expected
    # a: 5 records + 1 rejection; b: 5 + 3 (lines 6, 9 and 10 too long); c: three copies joined without a
    # newline (a copy's last line runs into the next one's first): 13 + 3; d: 1 unsupported file; e: nothing
    assert sum(len(refs) + len(rejected) for refs, _, rejected in expected) == 6 + 8 + 16 + 1


def test_corrupt_compressed_file_keeps_the_lines_before_the_damage(tmp_path):
    lines = b"".join(b'{"n":%d}\n' % i for i in range(2000))
    file = _landed(tmp_path, "f.jsonl.gz", gzip.compress(lines)[:-40])
    reader = _reader()
    expected = _row_reader_rows(reader, [file])
    got = _as_rows(reader.line_batches([file]))
    assert got == expected
    [(refs, texts, rejected)] = got
    assert texts == [f'{{"n":{i}}}' for i in range(len(texts))]
    assert [(r.record_ref, r.reason_code) for r in rejected] == [(f"f.jsonl.gz:{len(texts) + 1}", "CORRUPT_FILE")]


def test_key_set_holds_exactly_the_added_keys_across_merges():
    rng = np.random.default_rng(7)
    keys = KeySet()
    added = set()
    for _ in range(40):
        # few first hashes: many keys share k1 with their k2 out of order, which the merge must sort
        k1 = rng.integers(0, 50, 300, dtype=np.uint64)
        k2 = rng.integers(0, 1 << 62, 300, dtype=np.uint64)
        keys.add(k1, k2)
        added |= set(zip(k1.tolist(), k2.tolist()))
    probe1 = np.array([k for k, _ in list(added)[:500]] + [7, 60], dtype=np.uint64)
    probe2 = np.array([k for _, k in list(added)[:500]] + [123, 1], dtype=np.uint64)
    assert keys.contains(probe1, probe2).tolist() == [True] * 500 + [(7, 123) in added, False]
    assert len(np.unique(np.stack([keys.k1]), axis=1)[0]) <= len(keys)
    assert np.all(np.diff(keys.k1.astype(np.float64)) >= 0)


@pytest.mark.parametrize("first_hashes", [50, 1 << 62])
def test_key_order_is_the_two_key_stable_order(first_hashes):
    """``_sorted`` sorts on the first hash and falls back to both only when needed: its permutation is always
    the two-key stable sort's, with repeated keys (first occurrence first) and shared first hashes."""
    from assets.ingest.common.keyset import _sorted

    rng = np.random.default_rng(11)
    k1 = rng.integers(0, first_hashes, 2_000, dtype=np.uint64)
    k2 = rng.integers(0, 1 << 62, 2_000, dtype=np.uint64)
    k1[1000:1500], k2[1000:1500] = k1[:500], k2[:500]  # a quarter of the keys repeated
    s1, s2, order = _sorted(k1, k2)
    assert order.tolist() == np.lexsort((k2, k1)).tolist()
    assert s1.tolist() == k1[order].tolist() and s2.tolist() == k2[order].tolist()


def test_key_table_first_occurrence_wins():
    table = KeyTable(np.array([5, 3, 5, 3], dtype=np.uint64), np.array([1, 9, 1, 2], dtype=np.uint64),
                     np.array([10, 20, 30, 40]))
    assert table.lookup(np.array([5, 3, 3, 4], dtype=np.uint64), np.array([1, 9, 2, 1], dtype=np.uint64)).tolist() == [
        10, 20, 40, -1]


def test_row_hash_tells_rows_apart_like_the_struct_hash():
    import polars as pl

    from assets.ingest.common.keyset import row_hash

    rows = pl.DataFrame({"a": [None, "", "x", "y", "x", None, "x"], "b": ["y", "y", "y", "x", "y", None, None],
                         "n": [1, 1, 1, 1, 1, 2, 2]})
    hashed = rows.with_columns(row_hash(["a", "b", "n"], seed=7).alias("h"),
                               pl.struct(["a", "b", "n"]).hash(seed=7).alias("s"))
    # equal rows hash equal; null differs from "", and swapping values between columns changes the hash
    assert hashed.get_column("h").n_unique() == hashed.get_column("s").n_unique() == 6
    assert hashed["h"][2] == hashed["h"][4] and hashed["h"][0] != hashed["h"][1] and hashed["h"][2] != hashed["h"][3]
    assert hashed["h"][5] != hashed["h"][6]
    # other seeds, other hashes (the two halves of a 128-bit key are independent)
    assert (rows.select(row_hash(["a", "b", "n"], seed=8)).to_series() != hashed["h"]).all()
