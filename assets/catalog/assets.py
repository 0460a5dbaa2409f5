"""`analyst_catalog`: rebuilds `chargeledger.duckdb` (one commented view per table) at the end of a run."""

import dagster as dg

from assets.catalog.incremental import refresh_catalog_if_changed
from assets.partitions import daily
from resources.tables import registered_specs
from resources.warehouse import WarehouseResource


def build_analyst_catalog(upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:
    """The catalog asset, made to depend on every other asset of the nightly run so it runs last."""

    @dg.asset(partitions_def=daily, group_name="catalog", deps=upstream, kinds={"duckdb"})
    def analyst_catalog(warehouse: WarehouseResource) -> dg.MaterializeResult:
        """The DuckDB catalog analysts query read-only: a view per warehouse table, with table and column comments.

        Rebuilt into a temporary file and swapped in, so open analyst sessions keep working during a run; only
        when a view or comment changed (a new partition is visible through the existing views already).
        """
        specs = registered_specs()
        path, rebuilt = refresh_catalog_if_changed(warehouse, specs)
        con = warehouse.connect_catalog()
        try:
            sessions = con.execute("select count(*) from sessions").fetchone()[0]
        finally:
            con.close()
        return dg.MaterializeResult(metadata={"catalog": dg.MetadataValue.path(str(path)), "views": len(specs),
                                              "rebuilt": rebuilt,
                                              "sessions_in_catalog": sessions})

    return analyst_catalog
