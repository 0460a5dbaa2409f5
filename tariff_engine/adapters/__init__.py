"""Adapters from source tariff and session formats into the canonical model (`tariff_engine.model`)."""
