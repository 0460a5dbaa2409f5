"""The Charge API stand-in (seed 000) lives in `data.partners.charge_api`, the demo's local partner receiver
(demo code must not import from tests/): re-exported here so the tests and `python -m
tests.standins.charge_api --port 8803` (`make standins`) keep working."""

from data.partners.charge_api import (
    AUTH_SERVER, MAX_INTERVAL, SCOPE, SUM_TOLERANCE_PER_INTERVAL, ChargeApiStandin, charge_problems, main,
)

__all__ = ["AUTH_SERVER", "MAX_INTERVAL", "SCOPE", "SUM_TOLERANCE_PER_INTERVAL", "ChargeApiStandin",
           "charge_problems", "main"]

if __name__ == "__main__":
    main()
