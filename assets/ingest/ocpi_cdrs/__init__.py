"""OCPI CDR files from the landing zone → `ocpi_cdrs` (+ quarantine)."""
