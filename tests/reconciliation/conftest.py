"""The pricing tests' hand-built day (tariffs, reference, sessions, periods) is the reconciliation's input too."""

from tests.pricing.conftest import landed_tariffs, reference  # noqa: F401  (fixtures)
