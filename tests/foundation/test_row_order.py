"""The stored row order from integer keys (``resources.row_order``) is polars' sort, row for row."""

import datetime as dt
import random

import polars as pl
import pytest

from resources.row_order import sort_order, sorted_rows

WORDS = ["", "a", "A", "ab", "b", "Énergie", "z", "Z9", "\u2028", "0", "CP-001", "CP-01", "CP-1"]


def _frame(rows: int, seed: int, distinct: int) -> pl.DataFrame:
    rng = random.Random(seed)
    pool = WORDS + [f"w{i:05d}" for i in range(distinct)]

    def maybe(value):
        return None if rng.random() < 0.1 else value

    start = dt.datetime(2026, 10, 24, tzinfo=dt.timezone.utc)
    return pl.DataFrame({
        "cp": [maybe(rng.choice(pool[:12])) for _ in range(rows)],
        "tx": [maybe(rng.choice(pool)) for _ in range(rows)],
        "at": [maybe(start + dt.timedelta(seconds=rng.randrange(50))) for _ in range(rows)],
        "day": [maybe(dt.date(2026, 10, rng.randrange(1, 4))) for _ in range(rows)],
        "n": [maybe(rng.randrange(-3, 3)) for _ in range(rows)],
        "big": [maybe(rng.choice([0, 2**64 - 1, 2**63])) for _ in range(rows)],
        "flag": [maybe(rng.random() < 0.5) for _ in range(rows)],
        "ref": [f"f.jsonl:{rng.randrange(rows * 2)}" for _ in range(rows)],
        "payload": list(range(rows)),  # marks each row, so a different order of equal keys shows
    }, schema_overrides={"big": pl.UInt64(), "n": pl.Int16()})


@pytest.mark.parametrize("columns", [
    ["cp", "tx", "at", "ref"],
    ["at", "ref"],
    ["tx", "cp"],
    ["day", "n", "flag", "cp"],
    ["big", "n"],
    ["cp", "flag"],
    ["n", "tx", "cp", "day"],
])
@pytest.mark.parametrize("distinct", [3, 70_000])
@pytest.mark.parametrize("nulls_last", [True, False])
def test_same_order_as_polars(columns, distinct, nulls_last):
    """Nulls last or first, ties in their order, strings in byte order, with few distinct strings (an Enum's
    ranks) and more than 65,536 (ranks by sorting)."""
    frame = _frame(3_000 if distinct < 1000 else 90_000, seed=len(columns) * 7 + distinct, distinct=distinct)
    expected = frame.sort(columns, nulls_last=nulls_last, maintain_order=True)
    assert sort_order(frame, columns, nulls_last) is not None
    assert sorted_rows(frame, columns, nulls_last).equals(expected)


def test_later_keys_only_break_ties():
    """A last string key is ranked only where the keys before it tie: the order is still exact when nothing ties
    (the key is skipped) and when a few rows do."""
    frame = pl.DataFrame({"at": [3, 1, 2, 1, 3], "ref": ["b", "z", "y", "a", None], "row": [0, 1, 2, 3, 4]})
    assert sorted_rows(frame, ["at", "ref"]).get_column("row").to_list() == [3, 1, 2, 0, 4]
    unique = frame.with_columns(pl.Series("at", [5, 1, 2, 3, 4]))
    assert sorted_rows(unique, ["at", "ref"]).get_column("row").to_list() == [1, 2, 3, 4, 0]


def test_left_to_polars():
    """One key, or a key type with ordering rules of its own (floats), is polars' sort itself."""
    frame = pl.DataFrame({"x": [2.0, float("nan"), -0.0, 0.0, None], "s": ["b", "a", "c", "d", "e"]})
    assert sort_order(frame, ["s"]) is None
    assert sort_order(frame, ["s", "x"]) is None
    assert sorted_rows(frame, ["x", "s"]).equals(frame.sort(["x", "s"], nulls_last=True, maintain_order=True))
    assert sorted_rows(frame.head(0), ["s", "x"]).height == 0
