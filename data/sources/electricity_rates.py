"""Platform electricity-rate pages (seed 001 `electricity-rates/v2.0`) for the demo fleet.

Lands what the pipeline's rate fetcher would land for one full snapshot on the first generated day:
`platform/electricity_rates/<day>/demo-page-0001.json` (the rate listing, cursor envelope) and, per rate,
`platform/electricity_rates/<day>/demo.rate-<id>-page-0001.json` (its `price-periods` listing, a plain
`{"data": [...]}` as that endpoint returns it; a rate without periods gets an empty listing).
"""

from __future__ import annotations

from data.context import RunContext
from data.electricity_rates import DEMO_RATES
from data.sources.platform import listing_envelope

FOLDER = "platform/electricity_rates"
RUN = "demo"
SOURCE = "platform_electricity_rates"


def rate_listing_path(day: str) -> str:
    """Relative path of the rate listing page landed on `day`."""
    return f"{FOLDER}/{day}/{RUN}-page-0001.json"


def price_periods_path(day: str, rate_id: int) -> str:
    """Relative path of one rate's price-period page landed on `day`."""
    return f"{FOLDER}/{day}/{RUN}.rate-{rate_id}-page-0001.json"


def write_electricity_rates(ctx: RunContext) -> None:
    """Land every operator's rate and its price periods on the first day, and count them in the manifest."""
    day = ctx.cfg.start.isoformat()
    build = listing_envelope("electricity_rates", "electricity-rates/v2.0")
    # All demo rates fit one page, so the listing has no next cursor.
    ctx.landing.write_json(rate_listing_path(day), build([r.api_rate() for r in DEMO_RATES], day, 1, False))
    tally = ctx.tally
    tally.count(SOURCE, day, "pages")
    tally.count(SOURCE, day, "rates", len(DEMO_RATES))
    for rate in DEMO_RATES:
        groups = rate.api_price_periods()
        ctx.landing.write_json(price_periods_path(day, rate.rate_id), {"data": groups})
        tally.count(SOURCE, day, "pages")
        tally.count(SOURCE, day, "price_period_groups", len(groups))
        tally.count(SOURCE, day, "price_periods", sum(len(g["periods"]) for g in groups))
