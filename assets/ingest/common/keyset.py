"""A compact set of 128-bit record keys (two uint64 columns), for dedup state across the batches of a day.

Held as two sorted numpy arrays (16 bytes a key, no Python object per key): a lookup is a binary search,
an insert merges the (small) sorted batch into the (large) sorted state in one linear copy, so a day of
batches costs O(day x batches) bytes moved and never re-hashes the whole state.
"""

from __future__ import annotations

import numpy as np


class KeySet:
    """Keys ``(k1, k2)``, sorted by ``k1`` (``k2`` breaks no order; equal ``k1`` are adjacent)."""

    def __init__(self) -> None:
        self.k1 = np.empty(0, dtype=np.uint64)
        self.k2 = np.empty(0, dtype=np.uint64)

    def __len__(self) -> int:
        return len(self.k1)

    def contains(self, k1: np.ndarray, k2: np.ndarray) -> np.ndarray:
        """For each key: whether the set holds it."""
        k1, k2 = np.asarray(k1, dtype=np.uint64), np.asarray(k2, dtype=np.uint64)
        left = np.searchsorted(self.k1, k1, side="left")
        right = np.searchsorted(self.k1, k1, side="right")
        found = np.zeros(len(k1), dtype=bool)
        # Candidates share the first hash; the second decides (almost always one candidate each).
        for index in np.flatnonzero(left < right):
            found[index] = bool((self.k2[left[index]:right[index]] == k2[index]).any())
        return found

    def add(self, k1: np.ndarray, k2: np.ndarray) -> None:
        """Insert keys (duplicates are harmless: ``contains`` only asks whether one is there)."""
        if not len(k1):
            return
        k1, k2 = np.asarray(k1, dtype=np.uint64), np.asarray(k2, dtype=np.uint64)
        order = np.argsort(k1, kind="stable")
        k1, k2 = k1[order], k2[order]
        at = np.searchsorted(self.k1, k1, side="right")
        self.k1 = np.insert(self.k1, at, k1)
        self.k2 = np.insert(self.k2, at, k2)
