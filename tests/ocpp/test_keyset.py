"""The compact key state of a day (``keyset``): membership and lookups against Python sets and dicts, on keys
that share first hashes (the rare case the search tells apart by the second) and on queries in any order."""

from __future__ import annotations

import numpy as np
import pytest

from assets.ingest.common.keyset import KeySet, KeyTable, _find


def _keys(rng: np.random.Generator, count: int, first_values: int) -> tuple[np.ndarray, np.ndarray]:
    # Few distinct first hashes, so many keys share one; the top bit set on some (unsigned order).
    k1 = rng.integers(0, first_values, count, dtype=np.uint64) | (rng.integers(0, 2, count, dtype=np.uint64) << 63)
    return k1, rng.integers(0, 50, count, dtype=np.uint64)


@pytest.mark.parametrize("first_values", [3, 40, 2**62])
def test_keyset_answers_as_a_set_does(first_values):
    rng = np.random.default_rng(first_values % 1000)
    keys, reference = KeySet(), set()
    for batch in range(12):
        q1, q2 = _keys(rng, 200 + 50 * batch, first_values)
        expected = [(a, b) in reference for a, b in zip(q1.tolist(), q2.tolist())]
        assert keys.contains(q1, q2).tolist() == expected
        a1, a2 = _keys(rng, 150 * (batch % 4 + 1), first_values)
        keys.add(a1, a2)
        reference |= set(zip(a1.tolist(), a2.tolist()))
    assert keys.contains(np.empty(0, np.uint64), np.empty(0, np.uint64)).tolist() == []


def test_key_table_codes_are_the_first_occurrence():
    rng = np.random.default_rng(5)
    k1, k2 = _keys(rng, 3000, 30)
    codes = np.arange(len(k1)) % 7
    table, first = KeyTable(k1, k2, codes), {}
    for a, b, code in zip(k1.tolist(), k2.tolist(), codes.tolist()):
        first.setdefault((a, b), code)
    q1, q2 = _keys(rng, 5000, 30)
    expected = [first.get((a, b), -9) for a, b in zip(q1.tolist(), q2.tolist())]
    assert table.lookup(q1, q2, missing=-9).tolist() == expected
    assert len(table) == len(first)


def test_find_gives_the_first_equal_key_of_a_sorted_run():
    k1 = np.array([1, 4, 4, 4, 4, 9, 2**64 - 1], dtype=np.uint64)
    k2 = np.array([0, 1, 3, 3, 8, 0, 5], dtype=np.uint64)
    q1 = np.array([0, 1, 4, 4, 4, 4, 9, 10, 2**64 - 1], dtype=np.uint64)
    q2 = np.array([0, 0, 3, 8, 2, 1, 1, 0, 5], dtype=np.uint64)
    assert _find(k1, k2, q1, q2).tolist() == [-1, 0, 2, 4, -1, 1, -1, -1, 6]
    assert _find(k1[:0], k2[:0], q1, q2).tolist() == [-1] * len(q1)
