"""Partners: Chargeprice company documents (seed 004) → `partner_changes` and the `partners` registry."""
