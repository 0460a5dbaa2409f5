"""`align` command: clock-aligned interval energy from a CSV of cumulative register readings.

    python -m tariff_engine align --readings FILE --interval 30 --timezone Europe/London
    python -m tariff_engine.consumption.cli_align --readings FILE ...   (same, standalone)

Input CSV columns: session_id, timestamp (UTC ISO 8601, e.g. 2026-03-29T01:00:00Z), energy_wh
(cumulative register). Each session spans its first to its last reading. The register is cleaned
first (see `meter_curve`); the repairs are summarised on stderr. Output CSV on stdout: session_id,
interval_start_utc, interval_start_local, settlement_date, settlement_period, energy_wh.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

from tariff_engine.consumption.aligned import align_sessions, spans_from_readings
from tariff_engine.consumption.allocation import ALLOWED_INTERVAL_MINUTES
from tariff_engine.consumption.meter_curve import clean_register
from tariff_engine.consumption.timezones import UnknownTimeZoneError, load_zone

REQUIRED_COLUMNS = ("session_id", "timestamp", "energy_wh")
OUTPUT_COLUMNS = ("session_id", "interval_start_utc", "interval_start_local", "settlement_date",
                  "settlement_period", "energy_wh")


class InputError(ValueError):
    """The readings file cannot be used as given."""


def read_readings(path: Path) -> pl.DataFrame:
    """Parse the readings CSV; unparseable timestamps or values are an `InputError` naming the row."""
    try:
        raw = pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise InputError(f"{path}: missing columns {missing}; expected {list(REQUIRED_COLUMNS)}")
    parsed = raw.with_row_index("_line", offset=2).with_columns(
        pl.col("timestamp").str.strip_chars().str.to_datetime(time_unit="us", time_zone="UTC", strict=False)
        .alias("_ts"),
        pl.col("energy_wh").str.strip_chars().cast(pl.Float64, strict=False).alias("_wh"),
    )
    bad = parsed.filter(
        pl.col("_ts").is_null() | pl.col("_wh").is_null() | pl.col("session_id").is_null()
    )
    if bad.height:
        first = bad.row(0, named=True)
        raise InputError(
            f"{path}: {bad.height} unusable row(s); first at line {first['_line']}: "
            f"session_id={first['session_id']!r} timestamp={first['timestamp']!r} energy_wh={first['energy_wh']!r}"
        )
    return parsed.select("session_id", pl.col("_ts").alias("timestamp"), pl.col("_wh").alias("energy_wh"))


def run(readings_path: Path, interval_minutes: int, time_zone: str) -> pl.DataFrame:
    """Clean, align and label; returns the output rows (and writes the repair summary to stderr)."""
    load_zone(time_zone)
    readings = read_readings(readings_path)
    curve, repairs = clean_register(readings)
    if repairs.height:
        summary = repairs.group_by("reason_code").len().sort("reason_code")
        for code, count in summary.iter_rows():
            print(f"repaired: {code} x{count}", file=sys.stderr)
    aligned = align_sessions(curve, spans_from_readings(curve, time_zone), interval_minutes)
    return aligned.sort(["session_id", "interval_start_utc"]).select(OUTPUT_COLUMNS)


def _command(args: argparse.Namespace) -> int:
    try:
        out = run(Path(args.readings), args.interval, args.timezone)
    except (InputError, UnknownTimeZoneError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = out.with_columns(pl.col("interval_start_utc").dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    sys.stdout.write(out.write_csv())
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the `align` command."""
    parser.add_argument("--readings", required=True, help="CSV with session_id,timestamp,energy_wh")
    parser.add_argument("--interval", type=int, default=30, choices=ALLOWED_INTERVAL_MINUTES,
                        help="interval length in minutes (default 30)")
    parser.add_argument("--timezone", required=True, help="IANA zone of the site's local clock")
    parser.set_defaults(func=_command)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `align` on the `python -m tariff_engine` command line; the handler is `args.func(args)`."""
    parser = subparsers.add_parser("align", help="clock-aligned interval energy from register readings",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point, same options as `python -m tariff_engine align`."""
    parser = argparse.ArgumentParser(prog="align", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
