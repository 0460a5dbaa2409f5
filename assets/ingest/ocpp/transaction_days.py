"""``ocpp_transaction_days``: the landing dates that hold frames of each transaction.

``meter_readings`` and ``transactions`` read a transaction's frames from every landing date up to theirs (a
transaction can start days before it stops). Filtering ``ocpp_messages`` by transaction id does not prune
its partitions (they are sorted by receive time), so without an index each step read every earlier day: a
nightly cost that grew with the warehouse's history (at 100,000 sessions a day, about 26 and 19 CPU-seconds
per earlier day for the two steps, and their memory with it). The index is one row per (transaction, charge
point) and landing date, about 0.5 MB for such a day, and those steps open only the partitions it names; so
does ``meter_curves`` for the readings of its sessions (``reading_dates``).

``ocpp_messages`` removes its date's index before it replaces its partition and writes the new index after, from
the partition as committed (two columns read back; ids filtered out of every bucket as it was written could
keep the buckets' text buffers alive until the end of the step), so
a date without an index (a run stopped between the two, or a partition written before the index existed) is
looked up in its ``ocpp_messages`` partition instead: the index can only save reads, never hide a frame.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import polars as pl

from assets.ingest.ocpp.tables import METER_READINGS, OCPP_MESSAGES, OCPP_TRANSACTION_DAYS
from resources.warehouse import WarehouseResource

COLUMNS = ["transaction_id", "charge_point_id", "landing_date"]
# How far back a reading without transaction id looks for the transaction running on its connector
# (``meter_readings``): to a transaction whose start or stop landed at most this many days before it.
ATTRIBUTION_LOOKBACK_DAYS = 2


def write_index(warehouse: WarehouseResource, landing_date: dt.date) -> int:
    """Write the index of ``landing_date`` from its ``ocpp_messages`` partition as committed; returns its rows."""
    rows = (warehouse.scan(OCPP_MESSAGES, landing_date=landing_date).filter(pl.col("transaction_id").is_not_null())
            .select("transaction_id", "charge_point_id").unique().collect())
    warehouse.write_partition(OCPP_TRANSACTION_DAYS, rows, landing_date=landing_date)
    return rows.height


def _partition_dates(warehouse: WarehouseResource, table: str, up_to: dt.date | None) -> set[dt.date]:
    return {day for partition in warehouse.partitions(table)
            if (day := dt.date.fromisoformat(partition["landing_date"])) <= (up_to or dt.date.max)}


def transaction_days(warehouse: WarehouseResource, transaction_ids: Iterable[str],
                     up_to: dt.date | None = None) -> pl.DataFrame:
    """(``transaction_id``, ``charge_point_id``, ``landing_date``) of every landing date (up to ``up_to``) with a
    frame naming one of ``transaction_ids``: from the index, and from ``ocpp_messages`` itself for the dates
    that have no index."""
    ids = sorted(set(transaction_ids))
    message_dates = _partition_dates(warehouse, OCPP_MESSAGES.name, up_to)
    unindexed = sorted(message_dates - _partition_dates(warehouse, OCPP_TRANSACTION_DAYS.name, up_to))
    indexed = sorted(message_dates - set(unindexed))
    parts = []
    if ids and indexed:
        parts.append(warehouse.scan(OCPP_TRANSACTION_DAYS, landing_date=indexed, transaction_id=ids).select(COLUMNS))
    if ids and unindexed:
        parts.append(warehouse.scan(OCPP_MESSAGES, landing_date=unindexed, transaction_id=ids)
                     .select(COLUMNS).unique())
    if not parts:
        return OCPP_TRANSACTION_DAYS.empty_frame().select(COLUMNS)
    return pl.concat(parts).collect().sort(COLUMNS)


def on_dates(days: pl.DataFrame) -> pl.Expr:
    """A ``partitions`` condition for the landing dates in ``days`` (a ``transaction_days`` result)."""
    return pl.col("landing_date").is_in(days.get_column("landing_date").unique().sort().implode())


def on_reading_dates(days: pl.DataFrame) -> pl.Expr:
    """A ``partitions`` condition for the landing dates that can hold ``meter_readings`` (or ``transactions``
    rows) of the transactions in ``days``: a date with one of their frames, or up to ``ATTRIBUTION_LOOKBACK_DAYS``
    after one (a reading without a transaction id is only attributed to a transaction started or stopped that
    recently)."""
    dates = days.get_column("landing_date").unique()
    spread = pl.concat([dates.dt.offset_by(f"{k}d") for k in range(ATTRIBUTION_LOOKBACK_DAYS + 1)]).unique().sort()
    return pl.col("landing_date").is_in(spread.implode())


def reading_dates(warehouse: WarehouseResource, transaction_ids: Iterable[str]) -> pl.Expr:
    """``on_reading_dates`` of ``transaction_ids`` over all landing dates, for readers downstream of the ingest;
    a ``meter_readings`` partition without the frames it came from (written by other means) is always read."""
    orphans = pl.Series(orphan_reading_dates(warehouse), dtype=pl.Date())
    return (on_reading_dates(transaction_days(warehouse, transaction_ids))
            | pl.col("landing_date").is_in(orphans.implode()))


def orphan_reading_dates(warehouse: WarehouseResource) -> list[dt.date]:
    """Landing dates with a ``meter_readings`` partition but no ``ocpp_messages`` one (written by other means),
    which ``reading_dates`` always reads."""
    return sorted(_partition_dates(warehouse, METER_READINGS.name, None) - _partition_dates(warehouse, OCPP_MESSAGES.name, None))
