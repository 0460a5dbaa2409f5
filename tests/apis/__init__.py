"""Integration tests of the API clients, stand-ins, webhook receiver and API ingest assets."""
