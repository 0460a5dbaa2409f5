"""The run manifest: counts per source and landing day, injected faults with record refs, exact totals.

Written to `<out>/_manifest.json`. Energy totals are exact (integer Wh, and kWh as decimal strings) so tests and
the demo can compare warehouse figures against them without float tolerance.
"""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

# One JSON line per priced session (`Tally.expect`), beside the manifest so a 1M-session day keeps it small.
from data.landing import EXPECTED_PRICING

FAULT_KINDS: tuple[str, ...] = (
    "duplicate_frame",
    "duplicate_register_context",
    "transaction_begin_zero",
    "register_reset",
    "register_rollback",
    "clock_skew",
    "local_time_as_utc",
    "out_of_order",
    "late_arrival",
    "malformed_json",
    "unknown_tariff",
    "currency_mismatch",
    "version_conflict",
)


class Tally:
    """Counters `source → landing day → metric`, plus session-level totals and the fault log."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
        self.faults: dict[str, list[dict[str, Any]]] = {k: [] for k in FAULT_KINDS}
        self.dst_sessions: list[dict[str, Any]] = []
        self.dst_session_count = 0
        self.sessions_by_day: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.energy_wh_by_currency: dict[str, int] = defaultdict(int)
        self.sessions_by_currency: dict[str, int] = defaultdict(int)
        self.by_settlement: dict[str, dict[str, dict[str, int]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(int)))
        # Per source: energy (Wh) and records that a correct ingest should accept, by currency.
        self.source_energy_wh: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.expected_sessions = 0

    def count(self, source: str, day: str, metric: str, n: int = 1) -> None:
        """Add `n` to `metric` of `source` on landing `day`."""
        self.counts[source][day][metric] += n

    def fault(self, kind: str, source: str, **ref: Any) -> None:
        """Record one injected fault and the record it affects."""
        self.faults[kind].append({"source": source, **ref})

    def expect(self, landing: Any, source: str, source_id: str, session: int, fault: Any, tariff_id: str,
               currency: str, engine: dict[str, str], reported: dict[str, Any], unreported_idle_fee: Any = None) -> None:
        """Record the engine's expected totals for one priced session (a line of EXPECTED_PRICING).

        `source`/`source_id` name the record that wins in `sessions`; `fault` is the (kind, source) injected
        into the session or None; `engine` the per-dimension totals (`data.pricing.engine_*`); `reported` the
        source's own totals; `unreported_idle_fee` what the source charged for idle time it does not report.
        """
        self.expected_sessions += 1
        record = {"session": f"S{session:09d}", "source": source, "source_id": source_id,
                  "fault": None if fault is None else "/".join(fault), "tariff_id": tariff_id, "currency": currency,
                  "engine": engine, "reported": {k: str(v) for k, v in reported.items()},
                  "unreported_idle_fee": None if unreported_idle_fee is None else str(unreported_idle_fee)}
        landing.append(EXPECTED_PRICING, json.dumps(record, separators=(",", ":")))

    def to_json(self, header: dict[str, Any]) -> dict[str, Any]:
        """The manifest document."""
        faults = {}
        for kind in FAULT_KINDS:
            refs = self.faults[kind]
            by_source: dict[str, int] = defaultdict(int)
            for ref in refs:
                by_source[ref["source"]] += 1
            faults[kind] = {"count": len(refs), "by_source": dict(sorted(by_source.items())), "refs": refs}
        cdr_days = self.counts.get("ocpi_cdrs", {})
        cdr_reasons = {code: sum(1 for r in self.faults[kind] if r["source"] == "ocpi_cdrs")
                       for kind, code in (("malformed_json", "MALFORMED_JSON"), ("unknown_tariff", "UNKNOWN_TARIFF"),
                                          ("currency_mismatch", "CURRENCY_MISMATCH"))}
        return {
            **header,
            # What a correct OCPI CDR ingest must produce over all landing days (rows in = accepted + quarantined).
            "expected_ocpi_cdrs": {
                "lines": sum(m["cdrs"] for m in cdr_days.values()),
                "accepted": sum(m["valid"] for m in cdr_days.values()),
                "quarantined_by_reason": cdr_reasons,
            },
            "counts": {s: {d: dict(sorted(m.items())) for d, m in sorted(days.items())}
                       for s, days in sorted(self.counts.items())},
            "sessions_by_day": {d: dict(sorted(m.items())) for d, m in sorted(self.sessions_by_day.items())},
            "settlement": {d: {c: dict(sorted(m.items())) for c, m in sorted(cur.items())}
                           for d, cur in sorted(self.by_settlement.items())},
            "faults": faults,
            "expected_pricing": {"file": EXPECTED_PRICING, "sessions": self.expected_sessions},
            "dst_sessions": {"count": self.dst_session_count, "refs": self.dst_sessions,
                             "refs_truncated": self.dst_session_count > len(self.dst_sessions)},
            "totals": {
                "sessions": sum(self.sessions_by_currency.values()),
                "sessions_by_currency": dict(sorted(self.sessions_by_currency.items())),
                "energy_wh_by_currency": dict(sorted(self.energy_wh_by_currency.items())),
                "kwh_by_currency": {c: str(Decimal(wh) / 1000) for c, wh in sorted(self.energy_wh_by_currency.items())},
                "source_energy_wh": {s: dict(sorted(v.items())) for s, v in sorted(self.source_energy_wh.items())},
            },
        }
