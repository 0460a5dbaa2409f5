"""Ingest assets: each source's landed files or pages → validated tables + quarantine."""
