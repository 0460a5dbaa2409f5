"""What `charging_periods` can take over from its previous run of a settlement date, so a re-settlement cuts again
only the sessions whose inputs changed.

A session's periods and figures depend only on its `sessions` row, its `meter_curves` rows and the tariff book
(`tariffs`, `evses`) its tariff is chosen from (`assets.consumption.build._charging_periods_batch`). Each run saves,
per session, a 128-bit digest of its row and curve rows with its figures (how it was cut, unknown charging
states, the register delta and period energy of the conservation check), with the tariff book's fingerprint and
the version of the `charging_periods` file it wrote (`saved_state`). The next run of the date takes the periods of a
session from the partition in place when the saved state describes that file, was made by the same code under the
same tariff book, and the session's digest is the same; every other session is cut again. The partition's bytes,
the figures and the conservation check are those of a full rebuild (`tests/consumption/test_period_cache.py`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from assets.consumption import saved_state
from assets.consumption.tables import CHARGING_PERIODS
from resources.warehouse import WarehouseResource

DIGEST = ["session_id", "digest_1", "digest_2"]
COUNT_COLUMNS = ["metered", "with_tariff_rules", "cdr_periods", "totals_only", "unknown_charging_states"]
SESSION_FIGURES = {"session_id": pl.String(), "digest_1": pl.UInt64(), "digest_2": pl.UInt64(),
                   **{name: pl.Int64() for name in COUNT_COLUMNS},
                   "expected_wh": pl.Int64(), "period_wh": pl.Float64()}
"""One row per session a run cut: its digest, how it was cut (0/1 counts) and, when metered, its register delta
and the energy of its periods."""


def empty_figures() -> pl.DataFrame:
    return pl.DataFrame(schema=SESSION_FIGURES)


@dataclass
class Plan:
    """What a run starts from: the saved figures it may reuse (empty: none), the tariff book fingerprint they were
    made under, and why (nothing reused, or reuse)."""

    figures: pl.DataFrame = field(default_factory=empty_figures)
    book: str | None = None
    why: str = ""

    def under(self, book: str | None) -> pl.DataFrame:
        """The saved figures that hold under tariff book ``book`` (none when it is not the saved run's)."""
        if self.figures.height and (book is None or book != self.book):
            self.figures, self.why = empty_figures(), "the tariff book changed"
        return self.figures


def plan(warehouse: WarehouseResource, day: dt.date) -> Plan:
    """The saved figures of ``day`` that may be reused (each session's digest is compared by the build)."""
    saved = saved_state.previous(warehouse, CHARGING_PERIODS, day, set(SESSION_FIGURES))
    if isinstance(saved, str):
        return Plan(why=saved)
    state, figures = saved
    return Plan(figures=figures.select(list(SESSION_FIGURES)), book=state.get("book"),
                why="reused the saved periods of unchanged sessions")


def book_key(fingerprint: bytes | None) -> str | None:
    return None if fingerprint is None else fingerprint.hex()


def digests(sessions: pl.DataFrame, curves: pl.DataFrame) -> pl.DataFrame:
    """(session_id, digest_1, digest_2) of each session: two 64-bit hashes (other seeds) of its whole row and of
    its curve rows in their order."""
    def hashed(frame: pl.DataFrame, seed: int) -> pl.Expr:
        return pl.struct(frame.columns).hash(seed=seed)

    curve_hashes = (curves.sort(["session_id", "timestamp"])
                    .select("session_id", hashed(curves, 11).alias("c1"), hashed(curves, 12).alias("c2"))
                    .group_by("session_id", maintain_order=True).agg(pl.col("c1"), pl.col("c2"))
                    .with_columns(pl.col("c1").hash(seed=13), pl.col("c2").hash(seed=14)))
    rows = sessions.select("session_id", hashed(sessions, 21).alias("r1"), hashed(sessions, 22).alias("r2"))
    joined = rows.join(curve_hashes, on="session_id", how="left", maintain_order="left").with_columns(
        pl.col("c1").fill_null(0), pl.col("c2").fill_null(0))
    return joined.select("session_id", pl.struct("r1", "c1").hash(seed=31).alias("digest_1"),
                         pl.struct("r2", "c2").hash(seed=32).alias("digest_2"))


def save(warehouse: WarehouseResource, day: dt.date, book: str | None, figures: pl.DataFrame) -> None:
    """Save the figures of the run that just wrote ``day``'s partition (made under tariff book ``book``; a book
    without a fingerprint saves nothing)."""
    if book is not None:
        saved_state.save(warehouse, CHARGING_PERIODS, day, {"book": book}, figures.select(list(SESSION_FIGURES)))
