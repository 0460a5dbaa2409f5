"""The asset graph, one package per domain (ingest, consumption, pricing, settlement, …)."""

from assets.collector import pace_garbage_collector

pace_garbage_collector()
