"""The `sessions` asset: every source's session records for one settlement date, deduplicated."""


import datetime as dt

import dagster as dg
import polars as pl

from assets.checks import schema_result
from assets.finance_metadata import markdown, money_metadata, money_table
from assets.ingest.ocpi_cdrs import ocpi_cdrs
from assets.partitions import daily
from assets.ingest.interval_charges import interval_charges
from assets.sessions.sources import rows_settling_on
from assets.sessions.tables import SESSION_LINKS, SESSIONS
from assets.session_batches import LIGHT_SESSIONS_PER_BATCH, batches_of
from resources.warehouse import PartitionWriter, WarehouseResource

# When several sources report the same physical session, the row kept is the one of the source listed
# first: the CDR is the billing document; metered and interval data are kept beside it for reconciliation.
SOURCE_PRECEDENCE = ("ocpi_cdr", "cpms_cdr", "cpms_session", "eevion", "ocpp", "interval")

# Two records with the same session reference are the same session only if their times overlap (with
# this much slack for clocks that disagree); otherwise the reference merely collided.
MATCH_SLACK = dt.timedelta(minutes=15)


def latest_versions(candidates: pl.LazyFrame) -> pl.LazyFrame:
    """One row per session id: the version updated last; ties broken by landing date, then record ref."""
    return (
        candidates.sort(["session_id", "last_updated", "landing_date", "record_ref"], descending=[False, True, True, True])
        .unique(subset=["session_id"], keep="first", maintain_order=True)
    )


def match_across_sources(rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split rows into (kept sessions, links): a row whose session reference and time overlap those of a
    row from a higher-precedence source is linked to it instead of kept.

    Rule: within one settlement date, group by `session_ref`; the primary is the row of the
    highest-precedence source (then the earliest start, then the id); another row of the group is the
    same session when [start, end] overlaps the primary's, widened by MATCH_SLACK on both sides.
    Credit CDRs are never matched: they stay rows of their own.
    """
    rank = {source: i for i, source in enumerate(SOURCE_PRECEDENCE)}
    ranked = rows.with_columns(pl.col("source").replace_strict(rank, default=len(rank)).alias("_rank"))
    # A credit CDR reverses a session; it is never the same session as the one it reverses.
    with_ref = ranked.filter(pl.col("session_ref").is_not_null() & ~pl.col("is_credit"))
    primaries = (
        with_ref.sort(["session_ref", "_rank", "start_utc", "session_id"])
        .group_by("session_ref", maintain_order=True).first()
        .select("session_ref", pl.col("session_id").alias("primary_id"), pl.col("start_utc").alias("p_start"),
                pl.col("end_utc").alias("p_end"))
    )
    joined = with_ref.join(primaries, on="session_ref", how="left")
    linked = joined.filter(
        (pl.col("session_id") != pl.col("primary_id"))
        & (pl.col("start_utc") <= pl.col("p_end") + MATCH_SLACK)
        & (pl.col("end_utc") >= pl.col("p_start") - MATCH_SLACK)
    )
    links = linked.select(
        pl.col("primary_id").alias("session_id"), pl.col("session_id").alias("linked_session_id"),
        pl.col("source").alias("linked_source"), "session_ref", "start_utc", "end_utc", "energy_wh", "currency",
        "reported_cost_excl_vat", "reported_cost_incl_vat",
    )
    kept = ranked.filter(~pl.col("session_id").is_in(links["linked_session_id"].implode())).drop("_rank")
    return kept, links


# What identifies the version `latest_versions` kept (its sort key), and every column the versions and the
# matching read (`latest_versions`, `match_across_sources` and its links).
VERSION_KEY = ["session_id", "last_updated", "landing_date", "record_ref"]
MATCH_COLUMNS = [*VERSION_KEY, "source", "session_ref", "is_credit", "start_utc", "end_utc", "energy_wh", "currency",
                 "reported_cost_excl_vat", "reported_cost_incl_vat"]


def write_whole_rows(warehouse: WarehouseResource, settlement_date: dt.date, kept: pl.DataFrame) -> int:
    """Write the source rows (every column) of the versions in `kept` as the date's partition; returns its rows.

    The rows are streamed from the sources and spilled by batch of consecutive session ids (the batches of
    `LIGHT_SESSIONS_PER_BATCH` the settlement assets read), each batch sorted and appended on its own, so only
    one batch's raw payloads are held, whatever the size of the day. Each batch ends its row group, so a
    downstream read of a batch decodes only its own rows.
    """
    starts = [batch.lo for batch in batches_of(kept.get_column("session_id"), LIGHT_SESSIONS_PER_BATCH)[1:]]
    batch_of = pl.lit(pl.Series(starts, dtype=pl.String())).search_sorted(pl.col("session_id"), side="right")
    rows = (rows_settling_on(warehouse, settlement_date)
            .join(kept.lazy().select(VERSION_KEY), on=VERSION_KEY, how="semi", nulls_equal=True))
    with PartitionWriter(warehouse, SESSIONS, batch_of, {"settlement_date": settlement_date}) as writer:
        rows.sink_batches(writer.write, chunk_size=2 * LIGHT_SESSIONS_PER_BATCH, maintain_order=True)
        writer.commit(lambda batch: batch.unique(VERSION_KEY, keep="first", maintain_order=True))
    return writer.rows


@dg.asset(
    partitions_def=daily,
    group_name="sessions",
    deps=[ocpi_cdrs, interval_charges, "transactions", "platform_cdrs", "platform_sessions", "eevion_sessions"],
    check_specs=[
        dg.AssetCheckSpec("schema", asset="sessions", description="Rows satisfy the sessions pandera model."),
        dg.AssetCheckSpec("unique_session_ids", asset="sessions", description="No session appears twice."),
    ],
    kinds={"polars", "parquet"},
)
def sessions(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Charging sessions settling on this date (local end date at the location), one row each.

    Reads the validated records of every source and landing date, keeps the latest version of each
    record (later `last_updated` wins), then keeps one row per physical session when several sources
    report it (same session reference, overlapping times; the CDR wins) and records the others in
    `session_links` for reconciliation.
    """
    settlement_date = dt.date.fromisoformat(context.partition_key)
    # The versions and the matching are decided on the few columns they read; only the rows kept are then read
    # whole (raw payloads are most of a session's bytes), a batch of sessions at a time.
    candidates = rows_settling_on(warehouse, settlement_date).select(MATCH_COLUMNS).collect()
    chosen = latest_versions(candidates.lazy()).collect()
    superseded = candidates.height - chosen.height
    del candidates
    kept, links = match_across_sources(chosen)
    del chosen
    write_whole_rows(warehouse, settlement_date, kept)
    del kept
    warehouse.write_partition(SESSION_LINKS, links, settlement_date=settlement_date)
    # What the figures and checks read, without the raw payloads.
    table = warehouse.scan(SESSIONS, settlement_date=settlement_date).drop("raw_payload").collect()

    revenue = (
        table.filter(~pl.col("is_credit"))
        .group_by("currency")
        .agg(pl.col("reported_cost_incl_vat").sum().alias("incl"), pl.col("reported_cost_excl_vat").sum().alias("excl"))
        .sort("currency")
    )
    metadata: dict[str, object] = {
        "sessions": table.height,
        "superseded_versions": superseded,
        "linked_duplicates_from_other_sources": links.height,
        "energy_kwh": round((table["energy_wh"].sum() or 0.0) / 1000, 3),
        "dagster/row_count": table.height,
    }
    metadata |= money_metadata("reported_revenue", revenue.select("currency", "excl").rows(), "excl_vat")
    metadata |= money_metadata("reported_revenue", revenue.select("currency", "incl").rows(), "incl_vat")
    metadata["reported_revenue"] = markdown(money_table(
        ["currency", "reported excl. VAT", "reported incl. VAT"], revenue.select("currency", "excl", "incl").rows()))
    duplicates = table.height - table["session_id"].n_unique()
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            schema_result(SESSIONS, table),
            dg.AssetCheckResult(check_name="unique_session_ids", passed=duplicates == 0, metadata={"duplicates": duplicates}),
        ],
    )
