"""30-minute interval charge files (seed 000's data shape) → `interval_charges` + `interval_charge_intervals`."""
