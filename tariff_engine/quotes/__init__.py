"""Chargeprice-style quotes (seed 002): `quote(request, tariffs)` and its parts, one job per module (see
`prices`)."""

from .prices import quote
from .request import CHARGEPRICE_PLUGS, EUROFXREF_CURRENCIES, ChargePoint, QuoteRequest, QuoteRequestError, parse_request
from .response import blocking_fee_start, dumps
from .tariffs import QuoteTariff, as_entries, load_tariff_directory

__all__ = [
    "CHARGEPRICE_PLUGS", "EUROFXREF_CURRENCIES", "ChargePoint", "QuoteRequest", "QuoteRequestError", "QuoteTariff",
    "as_entries", "blocking_fee_start", "dumps", "load_tariff_directory", "parse_request", "quote",
]
