"""Command line of the tariff engine: `python -m tariff_engine {price-cdr,explain,lint,quote,align} …`.

`price-cdr` and `explain` price an OCPI CDR's charging periods under one tariff file (through the kernels);
`lint` reports tariff problems with JSON paths. `quote` (tariff_engine.quote) and `align`
(tariff_engine.consumption.cli_align) are registered when those modules exist and expose
`register(subparsers)`; each registered subcommand sets `func(args) -> int` as its handler.
Exit codes: 0 success, 1 lint errors, 2 bad input (message on stderr).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from .adapters.ocpi import OcpiFormatError, TimezoneUnresolvedError, parse_cdr, parse_tariff
from .lint import lint_document
from .model import PricingResult
from .pricing import price_sessions, result_to_json

_OPTIONAL_COMMANDS = ("tariff_engine.quote", "tariff_engine.consumption.cli_align")


class InputError(Exception):
    """Bad command-line input: printed to stderr, exit code 2."""


def _load_json(path: str, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{what} file not found: {path}") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{what} file {path} is not valid JSON: {error}") from None


def _unwrap(document: Any) -> Any:
    """An OCPI response page `{"data": …}` holds the object (or a one-element list of it)."""
    if isinstance(document, dict) and "data" in document and "status_code" in document:
        document = document["data"]
    if isinstance(document, list) and len(document) == 1:
        document = document[0]
    return document


def _price(args: argparse.Namespace) -> PricingResult:
    tariff_json = _unwrap(_load_json(args.tariff, "tariff"))
    cdr_json = _unwrap(_load_json(args.cdr, "CDR"))
    try:
        tariff = parse_tariff(tariff_json)
    except (OcpiFormatError, ValueError) as error:
        raise InputError(f"tariff {args.tariff}: {error}") from None
    try:
        session = parse_cdr(cdr_json, args.timezone)
    except TimezoneUnresolvedError as error:
        raise InputError(f"no time zone for the CDR ({error}); pass --timezone, e.g. --timezone Europe/Berlin") from None
    except (OcpiFormatError, ValueError) as error:
        raise InputError(f"CDR {args.cdr}: {error}") from None
    result = price_sessions([tariff], [session], breakdown=True)[0]
    if result.error_code is not None:
        raise InputError(f"cannot price the CDR: {result.error_code}: {result.error}")
    return result


def _cmd_price_cdr(args: argparse.Namespace) -> int:
    document = result_to_json(_price(args))
    print(json.dumps(document, indent=2))
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    result = _price(args)
    print(explain_table(result))
    return 0


def explain_table(result: PricingResult) -> str:
    """The breakdown of a priced session as a readable fixed-width table, then the totals."""
    header = ("period", "dimension", "element", "raw", "billed", "step", "price", "excl", "tax")
    lines = [header]
    for row in result.breakdown:
        dimension = row.dimension + (" (reservation)" if row.reservation and row.dimension == "FLAT" else "")
        lines.append((
            str(row.period_index), dimension, f"{row.element_index}.{row.component_index}",
            _short(row.raw_volume), _short(row.billed_volume), _short(row.step_volume), _short(row.price),
            _short(row.excl_vat), _short(row.tax),
        ))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip() for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    text.append("")
    for name in ("total_energy_cost", "total_time_cost", "total_parking_cost", "total_fixed_cost",
                 "total_reservation_cost", "total_cost"):
        amount = getattr(result, name)
        text.append(f"{name:<24} excl {amount.excl_vat:>12}  incl {amount.incl_vat:>12}  {result.currency}")
    if result.min_price_applied or result.max_price_applied:
        text.append("bounded by " + " and ".join(
            n for n, f in (("min_price", result.min_price_applied), ("max_price", result.max_price_applied)) if f))
    return "\n".join(text)


def _short(value) -> str:
    text = format(value.quantize(value.__class__("0.000001")).normalize(), "f")
    return text


def _cmd_lint(args: argparse.Namespace) -> int:
    document = _unwrap(_load_json(args.tariff, "tariff"))
    findings = lint_document(document)
    for finding in findings:
        print(f"{finding.severity:<7} {finding.code:<28} {finding.path}: {finding.message}")
    if not findings:
        print("no findings")
    return 1 if any(f.severity == "ERROR" for f in findings) else 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(prog="python -m tariff_engine", description="ChargeLedger tariff engine")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, func, help_text in (("price-cdr", _cmd_price_cdr, "price an OCPI CDR: totals as JSON"),
                                  ("explain", _cmd_explain, "price an OCPI CDR: the breakdown as a table")):
        command = subparsers.add_parser(name, help=help_text)
        command.add_argument("--cdr", required=True, help="OCPI CDR JSON file")
        command.add_argument("--tariff", required=True, help="OCPI tariff JSON file")
        command.add_argument("--timezone", help="IANA time zone (default: from the CDR location)")
        command.set_defaults(func=func)
    lint = subparsers.add_parser("lint", help="structural and semantic problems of a tariff")
    lint.add_argument("--tariff", required=True, help="OCPI tariff JSON file")
    lint.set_defaults(func=_cmd_lint)
    for module_name in _OPTIONAL_COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name is not None and module_name.startswith(error.name):
                continue  # the optional module is not there
            raise
        register = getattr(module, "register", None)
        if callable(register):
            register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
