"""Sensors and schedules: landing files, API polling, late data, nightly settlement."""
