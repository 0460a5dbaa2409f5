"""The old import path of the quotes (`tariff_engine.quotes`, one job per module): re-exports only."""

from .quotes import (  # noqa: F401
    CHARGEPRICE_PLUGS, EUROFXREF_CURRENCIES, ChargePoint, QuoteRequest, QuoteRequestError, QuoteTariff, as_entries,
    blocking_fee_start, dumps, load_tariff_directory, parse_request, quote,
)
