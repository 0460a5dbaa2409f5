"""`python -m tariff_engine quote --request FILE --tariffs DIR`: a seed-002 quote from the command line."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from ..documents import load_json
from .prices import quote
from .request import QuoteRequestError
from .response import dumps
from .tariffs import load_tariff_directory


def _command(args: argparse.Namespace) -> int:
    # A file that cannot be read is a command-line error (one line on stderr); a request that reads but is
    # wrong is answered with the seed's error document on stdout, as the quote service would.
    try:
        request = load_json(args.request, "request")
        entries = load_tariff_directory(args.tariffs, args.timezone, args.currency)
        vehicles = load_json(args.vehicles, "vehicles") if args.vehicles else {}
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not entries or all(entry.error is not None for entry in entries):
        first = f"; first: {entries[0].error}" if entries else ""
        print(f"error: no readable tariff in {args.tariffs} ({len(entries)} refused{first})", file=sys.stderr)
        return 2
    try:
        on_date = date.fromisoformat(args.date) if args.date else None
    except ValueError:
        print(dumps(QuoteRequestError(f"--date must be YYYY-MM-DD, got {args.date!r}").document()))
        return 2
    response = quote(request, entries, vehicles=vehicles, timezone_name=args.timezone, on_date=on_date)
    print(dumps(response))
    return 2 if "errors" in response else 0


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `quote` subcommand to the `python -m tariff_engine` parser."""
    parser = subparsers.add_parser("quote", help="Chargeprice-style prices of a hypothetical charge (seed 002)",
                                   description="Chargeprice-style prices of a hypothetical charge (seed 002).")
    parser.add_argument("--request", required=True, help="charge_price_request JSON file")
    parser.add_argument("--tariffs", required=True,
                        help="folder of tariff JSON files, read recursively (OCPI, platform, Eevion, as delivered)")
    parser.add_argument("--currency", help="currency of bare Eevion tariffs, which carry none (e.g. CAD)")
    parser.add_argument("--timezone", help="the station's IANA time zone (default: from the station's country)")
    parser.add_argument("--date", help="local date of the charge, YYYY-MM-DD (default: today)")
    parser.add_argument("--vehicles", help="JSON file: vehicle id -> {battery_capacity_kwh, max_ac_kw, max_dc_kw}")
    parser.set_defaults(func=_command)
    return parser
