"""Draft a month's invoices from its priced sessions: who is billed, which lines, which VAT.

- **Issuer**: the operator (`sessions.operator_id`). **Customer**: the eMSP partner for its customers' roaming
  sessions (`emsp_id`, not the operator itself), else the direct customer (`customer_id`). One document per
  issuer × customer × currency and month.
- **Billable**: priced sessions (`error_code` null) that are not credit CDRs. Every other session of the month
  is listed with a reason code (NOT_PRICED, CREDIT_CDR, NO_CUSTOMER, VAT_RATE_UNKNOWN, NOTHING_TO_BILL), never dropped silently.
- **VAT rate** of an amount, per OCPI dimension (energy, time, parking, fixed, reservation): the one rule the
  settlement statements use too, `assets.settlement.vat.assign_rates` (the tariff's rate where it fits the
  engine's excl./incl. amounts, else the simplest rate that fits them, else the session's one rate); an amount
  no rate fits is not invoiced (VAT_RATE_UNKNOWN). Printed to 0.1 % unless finer (`invoice_rate`).
  A tariff whose prices include tax without naming the rate (`tax_included` YES, the engine's excl. = incl.: the platform's gross prices) is billed as a gross
  amount at the issuer's VAT rate (`vat_percent` of the operator's reference document); without that rate
  the session is not invoiced (VAT_RATE_UNKNOWN). A partner contract with `vatTreatment` reverse_charge or
  exempt bills 0 % with that mention.
- **Lines**: per session and VAT rate (`session`) or per location and VAT rate (`aggregated`; the contract's
  `invoiceLines` for partners, the run's config for direct customers). A line's net is the exact sum of its
  amounts rounded half-up to the currency's minor unit; its VAT is net × rate, rounded the same way; gross =
  net + VAT. A gross-priced line keeps its gross (what the customer was charged): VAT = gross × rate /
  (100 + rate), rounded, and net = gross - VAT. The VAT summary and the totals are sums of the rounded lines, so net + VAT = gross to the cent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

from assets.invoicing.register import Draft
from assets.partner_settlement.contracts import Contract, contract_for
from assets.partner_settlement.vat import VatRateUnknown, is_gross_priced
from assets.settlement.vat import assign_rates
from tariff_engine.money import minor_units

DIMENSIONS = ("energy", "time", "parking", "fixed", "reservation")
RATE_STEP = Decimal("0.1")
ZERO = Decimal(0)


def money(value: Decimal, currency: str) -> Decimal:
    """Half-up to the currency's minor unit."""
    return value.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Party:
    """Issuer or customer as printed on the document."""

    id: str
    name: str


@dataclass(frozen=True)
class Uninvoiced:
    session_id: str
    operator_id: str
    reason_code: str
    reason: str


NET, GROSS = "net", "gross"

# The session fields a document's lines and payload are drafted from (besides its energy and its amounts per rate).
LINE_FIELDS = ("session_id", "start_utc", "time_zone", "location_id", "evse_uid", "settlement_date")


class RateUndetermined(VatRateUnknown):
    """A net-priced amount whose VAT rate the one rule (`assets.settlement.vat.assign_rates`) cannot tell."""


def invoice_rate(rate: Decimal) -> Decimal:
    """A rate as printed: to 0.1 % (19.0) unless it has finer digits (7.25), which it keeps."""
    coarse = rate.quantize(RATE_STEP)
    return coarse if coarse == rate else rate.normalize()


def session_rates(row: dict, issuer_rate: Decimal | None = None,
                  tariff_vat: dict[tuple[str, str], Decimal] | None = None) -> dict[tuple[Decimal, str], Decimal]:
    """(VAT rate in percent, basis net|gross) → exact amount of one priced session (see the module docstring).

    Net amounts take their rate from `assign_rates`, the rule the settlement statements use too, with the rate
    of the session's tariff per dimension (`tariff_vat`: (tariff_id, dimension) → rate) where it fits.
    """
    if is_gross_priced(row.get("tax_included"), row["total_cost_excl"], row["total_cost_incl"]):
        if issuer_rate is None:
            raise VatRateUnknown(row["session_id"])
        return {(issuer_rate.quantize(RATE_STEP), GROSS): row["total_cost_incl"]}
    lines = [(row["session_id"], name, row[f"total_{name}_cost_excl"], row[f"total_{name}_cost_incl"] or ZERO,
              (tariff_vat or {}).get((row.get("tariff_id"), name)))
             for name in DIMENSIONS if row[f"total_{name}_cost_excl"]]
    by_rate: dict[Decimal, Decimal] = defaultdict(Decimal)
    for (_, name, excl, _, _), (rate, _) in zip(lines, assign_rates(lines)):
        if rate is None:
            raise RateUndetermined(f"no VAT rate fits its {name} amount {excl} (net)")
        by_rate[invoice_rate(rate)] += excl
    return {(rate, NET): amount for rate, amount in by_rate.items()}


def _line(description: str, quantity: Decimal, unit: str, energy_wh: Decimal, rate: Decimal, basis: str,
          exact: Decimal, currency: str, session_id: str | None, location_id: str) -> dict:
    if basis == GROSS:
        gross = money(exact, currency)
        vat = money(gross * rate / (100 + rate), currency)
        net = gross - vat
    else:
        net = money(exact, currency)
        vat = money(net * rate / 100, currency)
    return {"description": description, "session_id": session_id, "location_id": location_id,
            "quantity": str(quantity), "unit": unit, "energy_wh": str(energy_wh), "vat_rate": str(rate),
            "net": str(net), "vat": str(vat), "gross": str(net + vat)}


def _kwh(energy_wh: Decimal) -> Decimal:
    return (energy_wh / 1000).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def _lines(sessions: list[dict], mode: str, treatment: str, currency: str) -> list[dict]:
    def rate_of(rate: Decimal, basis: str) -> tuple[Decimal, str]:
        # Reverse charge / exempt: no VAT, so a gross-priced amount is billed whole as the net.
        return (rate, basis) if treatment == "standard" else (ZERO.quantize(RATE_STEP), NET)

    lines: list[dict] = []
    if mode == "session":
        for s in sorted(sessions, key=lambda s: (s["start_utc"], s["session_id"])):
            local = s["start_utc"].astimezone(ZoneInfo(s["time_zone"])) if s["time_zone"] else s["start_utc"]
            for (rate, basis), exact in sorted(s["rates"].items()):
                text = f"{local:%Y-%m-%d %H:%M} {s['location_id']} EVSE {s['evse_uid']}, session {s['session_id']}"
                lines.append(_line(text, _kwh(s["energy_wh"]), "kWh", s["energy_wh"], *rate_of(rate, basis), exact,
                                   currency, s["session_id"], s["location_id"]))
    else:
        groups: dict[tuple[str, Decimal, str], list] = defaultdict(lambda: [0, ZERO, ZERO])
        for s in sessions:
            for (rate, basis), exact in s["rates"].items():
                group = groups[(s["location_id"], *rate_of(rate, basis))]
                group[0] += 1
                group[1] += exact
                group[2] += s["energy_wh"]
        for (location, rate, basis), (count, exact, wh) in sorted(groups.items()):
            text = f"{count} charging session(s) at {location}"
            lines.append(_line(text, Decimal(count), "sessions", wh, rate, basis, exact, currency, None, location))
    for n, line in enumerate(lines, start=1):
        line["line_no"] = n
    return lines


def _summary(lines: list[dict]) -> tuple[list[dict], dict]:
    per_rate: dict[Decimal, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for line in lines:
        acc = per_rate[Decimal(line["vat_rate"])]
        acc[0] += Decimal(line["net"])
        acc[1] += Decimal(line["vat"])
    vat_summary = [{"vat_rate": str(rate), "net": str(n), "vat": str(v), "gross": str(n + v)}
                   for rate, (n, v) in sorted(per_rate.items())]
    net = sum((Decimal(r["net"]) for r in vat_summary), ZERO)
    vat = sum((Decimal(r["vat"]) for r in vat_summary), ZERO)
    return vat_summary, {"net": str(net), "vat": str(vat), "gross": str(net + vat)}


def content_hash(payload: dict) -> str:
    """SHA-256 of what is billed. Display names are left out: a renamed customer or issuer is no reason to credit
    and re-issue a month (the issued document keeps the name it was issued with)."""
    billed = {k: v for k, v in payload.items() if k not in ("issuer", "customer")}
    parties = {role: ({k: v for k, v in payload[role].items() if k != "name"} if isinstance(payload.get(role), dict)
                      else payload.get(role)) for role in ("issuer", "customer")}
    return hashlib.sha256(json.dumps(billed | parties, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# The columns drafting reads of the month's sessions and priced sessions.
SESSION_FIELDS = tuple(dict.fromkeys(("session_id", "operator_id", "emsp_id", "customer_id", "is_credit", "energy_wh",
                                      *LINE_FIELDS)))
PRICED_FIELDS = ("session_id", "currency", "error_code", "tariff_id", "total_cost_excl", "total_cost_incl",
                 *(f"total_{n}_cost_{side}" for n in DIMENSIONS for side in ("excl", "incl")))


def _text(column: str) -> pl.Expr:
    """A column as an f-string prints it (a null as ``None``)."""
    return pl.col(column).cast(pl.String()).fill_null("None")


def _document_key() -> pl.Expr:
    """The customer key ``draft_month`` gives a session (``issuer|kind|customer|currency``), as an expression, to
    sort a month's sessions customer by customer; the Python rule in ``MonthDrafts`` stays the one that decides
    (a session it does not bill may get any key here)."""
    emsp = pl.col("emsp_id")
    partner = pl.when(emsp.is_not_null() & (emsp != "") & emsp.ne_missing(pl.col("operator_id"))).then(emsp)
    customer = pl.coalesce(partner, pl.col("customer_id"))
    kind = pl.when(partner.is_not_null()).then(pl.lit("emsp")).otherwise(pl.lit("direct"))
    return pl.concat_str([_text("operator_id"), kind, customer.fill_null("None"), _text("price_currency")],
                         separator="|")


DRAFT_RANGE_SESSIONS = 250_000
"""Sessions drafted from one read of the month; a larger month is drafted by ranges of customer keys of about this
many sessions (``MonthDrafts._rows_by_customer``)."""


def _rows_in_key_order(rows: pl.DataFrame, slice_rows: int = 16_384) -> Iterator[dict]:
    """``rows`` by customer key, then session id: gathered a slice at a time through the sort order rather than
    sorted whole (a sorted copy would double what drafting holds)."""
    order = rows.select(pl.arg_sort_by("_key", "session_id", maintain_order=True)).to_series()
    for start in range(0, len(order), slice_rows):
        yield from rows[order[start:start + slice_rows]].iter_rows(named=True)


class MonthDrafts:
    """The drafts of one month, one customer at a time, and the sessions that cannot be invoiced (with a reason).

    Iterating yields each document's `Draft` in customer key order (`register.issue_month` takes them as they
    come), so only one customer's sessions are held as Python objects at a time, not the month's. `uninvoiced`
    is complete (in session id order) once the iteration has ended.

    `tax_included`: tariff id → the tariff's tax_included (YES / NO / N/A); `issuer_vat`: operator → VAT %;
    `tariff_vat`: (tariff id, dimension) → the tariff's own rate (`assets.settlement.vat.tariff_rates`).
    """

    def __init__(self, month_first, month_last, sessions: pl.DataFrame | pl.LazyFrame,
                 priced: pl.DataFrame | pl.LazyFrame,
                 contracts: list[Contract], issuers: dict[str, str], partner_names: dict[str, str],
                 direct_line_mode: str = "session", tax_included: dict[str, str] | None = None,
                 issuer_vat: dict[str, Decimal] | None = None,
                 tariff_vat: dict[tuple[str, str], Decimal] | None = None, spill_root: Path | None = None):
        self.month_first, self.month_last, self.spill_root = month_first, month_last, spill_root
        self.contracts, self.issuers, self.partner_names = contracts, issuers, partner_names
        self.direct_line_mode, self.issuer_vat, self.tariff_vat = direct_line_mode, issuer_vat or {}, tariff_vat
        self.taxes = pl.DataFrame({"tariff_id": list((tax_included or {}).keys()),
                                   "tax_included": list((tax_included or {}).values())},
                                  schema={"tariff_id": pl.String(), "tax_included": pl.String()})
        # Queries, run when the drafts are iterated: the month's rows are held only while drafting.
        self.sessions, self.priced = sessions.lazy().select(*SESSION_FIELDS), priced.lazy()
        self.uninvoiced: list[Uninvoiced] = []

    def query(self, day: dt.date | None = None) -> pl.LazyFrame:
        """The rows drafting reads (of one settlement date, or of the month), each with its customer key."""
        sessions, priced = self.sessions, self.priced
        if day is not None:  # both sides: a priced row settles on its session's date
            sessions, priced = (frame.filter(pl.col("settlement_date") == day) for frame in (sessions, priced))
        return (sessions.join(priced.select(*PRICED_FIELDS).rename({"currency": "price_currency"}), on="session_id",
                              how="left")
                .join(self.taxes.lazy(), on="tariff_id", how="left")
                .with_columns(_document_key().alias("_key")))

    def _billed(self, row: dict) -> tuple[str, str, str, dict] | None:
        """(customer key, kind, customer, session as the lines print it) of a session billed, else None with the
        reason appended to `uninvoiced`."""
        sid, operator = row["session_id"], row["operator_id"]
        skip = self.uninvoiced.append
        if row["is_credit"]:
            skip(Uninvoiced(sid, operator, "CREDIT_CDR", "a credit CDR reverses a session; it is not billed again"))
            return None
        if row["error_code"] is not None or row["price_currency"] is None:
            skip(Uninvoiced(sid, operator, "NOT_PRICED", f"not priced: {row['error_code'] or 'no priced row'}"))
            return None
        partner = row["emsp_id"] if row["emsp_id"] and row["emsp_id"] != operator else None
        customer = partner or row["customer_id"]
        if not customer:
            skip(Uninvoiced(sid, operator, "NO_CUSTOMER", "the session names neither an eMSP nor a customer"))
            return None
        try:
            rates = session_rates(row, self.issuer_vat.get(operator), self.tariff_vat)
        except RateUndetermined as error:
            skip(Uninvoiced(sid, operator, "VAT_RATE_UNKNOWN", str(error)))
            return None
        except VatRateUnknown:
            skip(Uninvoiced(sid, operator, "VAT_RATE_UNKNOWN", f"tariff {row['tariff_id']} prices include tax at an "
                                                               f"unnamed rate and {operator} has no vat_percent"))
            return None
        if not rates:  # priced at exactly 0.00 (a failed start, a free tariff): no line, and no empty invoice
            skip(Uninvoiced(sid, operator, "NOTHING_TO_BILL", "priced at 0.00: nothing to bill"))
            return None
        kind = "emsp" if partner else "direct"
        key = f"{operator}|{kind}|{customer}|{row['price_currency']}"
        # Only what the lines and the payload print.
        session = ({name: row[name] for name in LINE_FIELDS}
                   | {"energy_wh": Decimal(str(round(row["energy_wh"] or 0.0, 3))), "rates": rates})
        return key, kind, customer, session

    def __iter__(self) -> Iterator[Draft]:
        self.uninvoiced.clear()  # drafted again from the start
        key, doc, done = None, None, set()
        for row in self._rows_by_customer():
            billed = self._billed(row)
            if billed is None:
                continue
            if billed[0] != key:
                if doc is not None:
                    yield self._draft(key, doc)
                key, kind, customer, _ = billed
                if key in done:  # the sort key and the rule disagree: never draft one customer twice
                    raise AssertionError(f"sessions of {key} are not contiguous in the drafting order")
                done.add(key)
                operator, currency = row["operator_id"], row["price_currency"]
                partner = customer if kind == "emsp" else None
                contract = contract_for(self.contracts, operator, partner, self.month_first) if partner else None
                doc = {"issuer": operator, "kind": kind, "customer": customer, "currency": currency,
                       "contract": contract, "sessions": []}
            doc["sessions"].append(billed[3])
        if doc is not None:
            yield self._draft(key, doc)
        self.uninvoiced.sort(key=lambda u: u.session_id)

    def _rows_by_customer(self) -> Iterator[dict]:
        """The month's rows by customer key, then session id. A month of more than ``DRAFT_RANGE_SESSIONS``
        sessions is read a settlement date at a time and spilled by ranges of customer keys of about that many
        sessions (a customer is never split), then drafted range by range: what is held is one date, one range and
        each customer's key, not the month."""
        sessions = self.sessions.select(pl.len()).collect().item()
        if sessions <= DRAFT_RANGE_SESSIONS:
            yield from _rows_in_key_order(self.query().collect())
            return
        days = self.sessions.select(pl.col("settlement_date").unique().sort()).collect().to_series().to_list()
        counts = (pl.concat([self.query(day).group_by("_key").len().collect() for day in days])
                  .group_by("_key").agg(pl.col("len").sum()).sort("_key"))
        ranges = counts.select("_key", ((pl.col("len").cum_sum() - pl.col("len")) // DRAFT_RANGE_SESSIONS)
                               .alias("_range"))
        spill_root = self.spill_root
        if spill_root is not None:
            spill_root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="drafts-", dir=spill_root) as folder:
            spilled: dict[int, list[Path]] = defaultdict(list)
            for number, day in enumerate(days):
                rows = self.query(day).join(ranges.lazy(), on="_key", how="left").collect()
                if rows.get_column("_range").null_count():
                    raise RuntimeError(f"the sessions of {day} changed while the month was drafted: run it again")
                for (index,), part in rows.partition_by("_range", as_dict=True).items():
                    path = Path(folder) / f"{index:08d}-{number:04d}.arrow"
                    part.drop("_range").write_ipc(path, compression="lz4")
                    spilled[index].append(path)
                del rows
            for index in sorted(spilled):
                yield from _rows_in_key_order(pl.concat([pl.read_ipc(path) for path in spilled[index]]))
                for path in spilled.pop(index):
                    path.unlink()

    def _draft(self, key: str, doc: dict) -> Draft:
        contract = doc["contract"]
        mode = contract.invoice_lines if contract else self.direct_line_mode
        treatment = contract.vat_treatment if contract else "standard"
        lines = _lines(doc["sessions"], mode, treatment, doc["currency"])
        vat_summary, totals = _summary(lines)
        customer_name = (self.partner_names.get(doc["customer"], doc["customer"]) if doc["kind"] == "emsp"
                         else doc["customer"])
        payload = {
            "issuer": {"id": doc["issuer"], "name": self.issuers.get(doc["issuer"], doc["issuer"])},
            "customer": {"kind": doc["kind"], "id": doc["customer"], "name": customer_name},
            "currency": doc["currency"], "period_start": self.month_first.isoformat(),
            "period_end": self.month_last.isoformat(), "vat_treatment": treatment, "line_mode": mode,
            "contract": f"{contract.contract_id} v{contract.version}" if contract else None,
            "session_ids": sorted(s["session_id"] for s in doc["sessions"]),
            "settlement_dates": sorted({s["settlement_date"].isoformat() for s in doc["sessions"]}),
            "lines": lines, "vat_summary": vat_summary, "totals": totals,
        }
        return Draft(doc["issuer"], key, content_hash(payload), payload)


def draft_month(month_first, month_last, sessions: pl.DataFrame, priced: pl.DataFrame, contracts: list[Contract],
                issuers: dict[str, str], partner_names: dict[str, str], direct_line_mode: str = "session",
                tax_included: dict[str, str] | None = None, issuer_vat: dict[str, Decimal] | None = None,
                tariff_vat: dict[tuple[str, str], Decimal] | None = None) -> tuple[list[Draft], list[Uninvoiced]]:
    """The drafts of one month (all held: `MonthDrafts` yields them one at a time) and the sessions that cannot be
    invoiced (with a reason)."""
    month = MonthDrafts(month_first, month_last, sessions, priced, contracts, issuers, partner_names,
                        direct_line_mode, tax_included, issuer_vat, tariff_vat)
    return list(month), month.uninvoiced
