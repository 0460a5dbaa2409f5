"""The asset graph, one package per domain (ingest, consumption, pricing, settlement, …)."""
