"""Dagster resources: the warehouse, the landing zone and the clients of external APIs.

Each resource owns its storage location or endpoint; nothing else in the code assumes a path or a host.
"""
