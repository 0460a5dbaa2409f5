"""Consumption: from raw meter readings to the quantities pricing and settlement need.

- `meter_curve`: cleaned cumulative register per session (monotonic, resets bridged, bad readings
  reported with a reason code) plus power and current.
- `charging_state`: charging vs parking spans (OCPP charging states, else a power threshold).
- `periods`: OCPI charging periods, cut wherever a tariff's price could change.
- `allocation`: the clock-aligned allocation kernel (integer Wh per interval, exactly conserved).
- `settlement`: settlement date and period (1…48, 46/50 on clock-change days) of each interval.
- `electricity`: electricity rates (seed 001) applied to intervals.

Pure library: numpy, numba and polars only, no Dagster.
"""
