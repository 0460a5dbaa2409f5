"""Command line of the tariff engine: `python -m tariff_engine {price-cdr,explain,lint,quote,align} …`.

`price-cdr` and `explain` price an OCPI CDR's charging periods under one tariff file of any family (OCPI,
platform, Eevion; see `documents`) through the kernels; `lint` reports tariff problems with JSON paths for a
file or a folder; `price-cdrs` prices an NDJSON file of CDRs columnar (`cdr_files`). `quote` (tariff_engine.quotes.cli) and `align`
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

from .adapters.ocpi import OcpiFormatError, TimezoneUnresolvedError, parse_cdr
from .documents import TariffDocumentError, TariffSourceError, documents_in, json_files, load_json, tariff_from_document
from .lint import lint_document
from .model import PricingResult, Tariff
from .policy import DEFAULT_POLICY, STRICT_POLICY
from .batch import price_sessions
from .cdr_json import result_to_json

_OPTIONAL_COMMANDS = ("tariff_engine.quotes.cli", "tariff_engine.consumption.cli_align", "tariff_engine.cdr_files")


class InputError(Exception):
    """Bad command-line input: printed to stderr, exit code 2."""


class DefaultsFormatter(argparse.HelpFormatter):
    """Every flag's help ends with its default, or says it is required (and flags whose help already
    mentions a default are left alone)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if not action.option_strings or "default" in text or action.default is argparse.SUPPRESS:
            return text
        if action.required:
            return f"{text} (required)"
        default = "none" if action.default is None else "%(default)s"
        return f"{text} (default: {default})"


def _load_json(path: str, what: str) -> Any:
    try:
        return load_json(path, what)
    except TariffSourceError as error:
        raise InputError(str(error)) from None


def _unwrap(document: Any) -> Any:
    """An OCPI response page `{"data": …}` holds the object (or a one-element list of it)."""
    if isinstance(document, dict) and "data" in document and "status_code" in document:
        document = document["data"]
    if isinstance(document, list) and len(document) == 1:
        document = document[0]
    return document


def _tariff(args: argparse.Namespace) -> Tariff:
    """The one tariff of `--tariff` (any family), or InputError with the JSON path of the problem."""
    entries = documents_in(_load_json(args.tariff, "tariff"), Path(args.tariff).name)
    if len(entries) != 1:
        raise InputError(f"tariff file {args.tariff} holds {len(entries)} tariffs; give a file with one")
    try:
        return tariff_from_document(entries[0].document, timezone_name=args.timezone, currency=args.currency)
    except TariffDocumentError as error:
        raise InputError(f"tariff {args.tariff}: {error}") from None


def _price(args: argparse.Namespace) -> PricingResult:
    tariff = _tariff(args)
    cdr_json = _unwrap(_load_json(args.cdr, "CDR"))
    try:
        session = parse_cdr(cdr_json, args.timezone)
    except TimezoneUnresolvedError as error:
        raise InputError(f"no time zone for the CDR ({error}); pass --timezone, e.g. --timezone Europe/Berlin") from None
    except (OcpiFormatError, ValueError) as error:
        raise InputError(f"CDR {args.cdr}: {error}") from None
    policy = STRICT_POLICY if getattr(args, "strict", False) else DEFAULT_POLICY
    result = price_sessions([tariff], [session], policy=policy, breakdown=True)[0]
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


_UNITS = {"ENERGY": "kWh", "TIME": "h", "PARKING_TIME": "h", "RESERVATION_TIME": "h", "FLAT": "session"}


def explain_table(result: PricingResult) -> str:
    """The breakdown of a priced session as a readable fixed-width table, then the totals.

    `element` and `component` are the 0-based indexes of the price component used in the canonical tariff;
    volumes are in the row's unit (kWh, h, or 1 session); prices per unit and amounts in the currency."""
    currency = result.currency
    header = ("period", "dimension", "element", "component", "unit", "raw", "billed", "step",
              f"price ({currency}/unit)", f"excl ({currency})", f"tax ({currency})")
    lines = [header]
    for row in result.breakdown:
        dimension = row.dimension + (" (reservation)" if row.reservation and row.dimension == "FLAT" else "")
        lines.append((
            str(row.period_index), dimension, str(row.element_index), str(row.component_index),
            _UNITS[row.dimension], _short(row.raw_volume), _short(row.billed_volume), _short(row.step_volume),
            _short(row.price), _short(row.excl_vat), _short(row.tax),
        ))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip() for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    text.append("")
    for name in ("total_energy_cost", "total_time_cost", "total_parking_cost", "total_fixed_cost",
                 "total_reservation_cost", "total_cost"):
        amount = getattr(result, name)
        text.append(f"{name:<24} excl {amount.excl_vat:>12}  incl {amount.incl_vat:>12}  {currency}")
    text.append(f"{'total_energy':<24} {result.total_energy} kWh")
    text.append(f"{'total_time':<24} {result.total_time} h (of which parking {result.total_parking_time} h)")
    if result.min_price_applied or result.max_price_applied:
        text.append("bounded by " + " and ".join(
            n for n, f in (("min_price", result.min_price_applied), ("max_price", result.max_price_applied)) if f))
    if result.warnings:
        text.append("warnings: " + ", ".join(result.warnings))
    return "\n".join(text)


def _short(value) -> str:
    text = format(value.quantize(value.__class__("0.000001")).normalize(), "f")
    return text


def _cmd_lint(args: argparse.Namespace) -> int:
    target = Path(args.tariff)
    try:
        files = json_files(target) if target.is_dir() else [target]
    except TariffSourceError as error:
        raise InputError(str(error)) from None
    errors = 0
    for file in files:
        origin = str(file.relative_to(target)) if target.is_dir() else file.name
        if not target.is_dir():
            content = _load_json(str(file), "tariff")  # the one file given: unreadable is an input error (2)
        else:
            try:
                content = load_json(file)
            except TariffSourceError as error:  # one bad file in a folder is a finding; the others are linted
                print(f"{origin} (unreadable): {'ERROR':<7} {'UNREADABLE_FILE':<28} $: {error}")
                errors += 1
                continue
        for entry in documents_in(content, origin):
            findings = lint_document(entry.document, timezone_name=args.timezone, currency=args.currency)
            label = f"{entry.origin} ({entry.family or 'unrecognised'})"
            if not findings:
                print(f"{label}: no findings")
            for finding in findings:
                print(f"{label}: {finding.severity:<7} {finding.code:<28} {finding.path}: {finding.message}")
            errors += any(f.severity == "ERROR" for f in findings)
    return 1 if errors else 0


def _add_tariff_options(command: argparse.ArgumentParser, tariff_help: str) -> None:
    command.add_argument("--tariff", required=True, help=tariff_help)
    command.add_argument("--timezone", help="IANA time zone of the station (default: from the CDR location)")
    command.add_argument("--currency", help="currency of a bare Eevion tariff, which carries none (e.g. CAD)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(prog="python -m tariff_engine", description="ChargeLedger tariff engine",
                                     formatter_class=DefaultsFormatter)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, func, help_text in (("price-cdr", _cmd_price_cdr, "price an OCPI CDR: totals as JSON"),
                                  ("explain", _cmd_explain, "price an OCPI CDR: the breakdown as a table")):
        command = subparsers.add_parser(name, help=help_text, formatter_class=DefaultsFormatter)
        command.add_argument("--cdr", required=True, help="OCPI CDR JSON file (2.1.1, 2.2.1 or 2.3.0)")
        _add_tariff_options(command, "tariff JSON file: OCPI, platform or Eevion, as delivered")
        command.add_argument("--strict", action="store_true",
                             help="refuse glitches (a period before the session start, periods out of order) "
                                  "instead of repairing them with a warning")
        command.set_defaults(func=func)
    lint = subparsers.add_parser("lint", help="structural and semantic problems of tariffs",
                                 formatter_class=DefaultsFormatter)
    _add_tariff_options(lint, "tariff JSON file or folder (read recursively): OCPI, platform or Eevion")
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
    for command in subparsers.choices.values():
        command.formatter_class = DefaultsFormatter  # every subcommand's flags show their defaults
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
