"""The analyst catalog: DuckDB views over every warehouse table, rebuilt at the end of each run."""
