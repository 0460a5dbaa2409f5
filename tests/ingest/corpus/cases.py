"""The hostile-input corpus: one case per failure class of issue 10, per source.

A case lands one file and states, per record of it, the outcome: a quarantine reason code or ACCEPTED.
Record references are the framework's: `<file>:<line>` for JSON lines, `<file>#<index>` for records of a
document, `<file>` for a document that is one record or a file rejected whole.

The valid base records come from tests/foundation/fixtures/cdr_example.json (the OCPI 2.2.1 spec example,
moved to 2026-10-24) and the loopback stand-ins' record makers (tests/standins), which follow seeds 001/003.
"""

from __future__ import annotations

import copy
import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import zstandard

from tests.standins import platform_data
from tests.standins.eevion import make_session as eevion_session

ACCEPTED = "ACCEPTED"
FILE_DAY = "2026-10-25"  # OCPI CDRs, interval charges, partners
API_DAY = "2026-11-21"  # platform and Eevion pages (the stand-ins' data is from 2026-11-20)

SPEC_CDR = json.loads((Path(__file__).parents[2] / "foundation" / "fixtures" / "cdr_example.json").read_text()
                      .replace("2015-06-29", "2026-10-24"))


@dataclass(frozen=True)
class Case:
    """One landed file of the corpus and the outcome expected for each of its records (ref suffix → code)."""

    failure_class: str
    folder: str
    name: str
    content: bytes
    expected: dict[str, str]

    def refs(self, day: str) -> dict[str, str]:
        """Full record reference → expected outcome."""
        return {f"{self.folder}/{day}/{self.name}{suffix}": code for suffix, code in self.expected.items()}


def lines(*records) -> bytes:
    """JSON lines ("\\n"-separated, characters written unescaped as a gateway does)."""
    return "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records).encode() + b"\n"


def cdr(cdr_id: str, **changes) -> dict:
    body = copy.deepcopy(SPEC_CDR)
    body["id"] = cdr_id
    body.update(changes)
    return body


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


DIGITS_5000 = "9" * 5000

OCPI = "ocpi_cdrs"


def ocpi_cases() -> list[Case]:
    """OCPI CDR files (`ocpi_cdrs/<day>/`)."""
    with_taxes = cdr("TAX-1", total_cost={"before_taxes": 4.0, "taxes": "21%"})
    taxes_ok = cdr("TAX-2", total_cost={"before_taxes": 4.0, "taxes": [{"name": "VAT", "amount": 0.4}]})
    separators = cdr("SEP-1", cdr_location={**SPEC_CDR["cdr_location"], "name": "Gent\u2028Zuid\u2029P+R\u0085Noord"},
                     cdr_token={**SPEC_CDR["cdr_token"], "uid": "0123\u2028456"})
    conflict_a = cdr("CONF-1", total_energy=10.0)
    conflict_b = cdr("CONF-1", total_energy=11.0)
    newer = cdr("VER-1", last_updated="2026-10-25T01:00:00Z")
    return [
        Case("string instead of object", OCPI, "shapes.jsonl", lines(
            cdr("S-1", cdr_location="LOC1"), cdr("S-2", cdr_token="012345678"), with_taxes, taxes_ok,
            cdr("S-3", charging_periods="none"), cdr("S-4", tariffs=12), cdr("S-5", id={"a": 1}), [SPEC_CDR]),
            {":1": "INVALID_VALUE", ":2": "INVALID_VALUE", ":3": "INVALID_VALUE", ":4": ACCEPTED,
             ":5": "INVALID_VALUE", ":6": "INVALID_VALUE", ":7": "INVALID_VALUE", ":8": "NOT_AN_OBJECT"}),
        Case("far-past and far-future dates", OCPI, "dates.jsonl", lines(
            cdr("D-1", start_date_time="0001-01-01T00:00:00Z"),
            cdr("D-2", start_date_time="0001-01-01T00:00:00+05:00"),   # before year 1 in UTC: overflows
            cdr("D-3", end_date_time="2200-01-01T00:00:00Z"),
            cdr("D-4", end_date_time="9999-12-31T23:59:59Z"),
            cdr("D-5", end_date_time="9999-12-31T23:59:59-05:00"),     # after year 9999 in UTC: overflows
            cdr("D-6", start_date_time="1999-12-31T00:00:00Z"),        # before the configured window
            cdr("D-7", last_updated="yesterday"), cdr("D-8", last_updated={"at": 1}),
            cdr("D-9", last_updated="2200-01-01T00:00:00Z")),
            {":1": "TIMESTAMP_OUT_OF_RANGE", ":2": "INVALID_TIMESTAMP", ":3": "TIMESTAMP_OUT_OF_RANGE",
             ":4": "TIMESTAMP_OUT_OF_RANGE", ":5": "INVALID_TIMESTAMP", ":6": "TIMESTAMP_OUT_OF_RANGE",
             ":7": "INVALID_TIMESTAMP", ":8": "INVALID_TIMESTAMP", ":9": "TIMESTAMP_OUT_OF_RANGE"}),
        Case("absurd and non-finite numbers", OCPI, "numbers.jsonl", lines(
            cdr("N-1", total_energy=1e308), cdr("N-2", total_time=1e300), cdr("N-3", total_time=2**62),
            json.dumps(cdr("N-4")).replace('"total_energy": 15.342', f'"total_energy": {DIGITS_5000}'),
            json.dumps(cdr("N-5")).replace('"total_energy": 15.342', '"total_energy": NaN'),
            json.dumps(cdr("N-6")).replace('"total_energy": 15.342', '"total_energy": 1e400'),
            cdr("N-7", total_cost={"excl_vat": 1e20, "incl_vat": 1e20}), cdr("N-8", total_cost={"excl_vat": 4.00001}),
            cdr("N-9", total_parking_time=-1)),
            {":1": "VALUE_OUT_OF_RANGE", ":2": "VALUE_OUT_OF_RANGE", ":3": "VALUE_OUT_OF_RANGE",
             ":4": "MALFORMED_JSON", ":5": "MALFORMED_JSON", ":6": "MALFORMED_JSON", ":7": "VALUE_OUT_OF_RANGE",
             ":8": "PRECISION_LOSS", ":9": "NEGATIVE_DURATION"}),
        Case("deep nesting", OCPI, "nesting.jsonl", lines(
            deep(100), json.dumps(cdr("DEEP-1")).replace('"auth_method"', f'"x": {deep(70)}, "auth_method"'),
            deep(100_000), json.dumps(cdr("DEEP-2")).replace('"auth_method"', f'"x": {deep(40)}, "auth_method"')),
            {":1": "NESTING_TOO_DEEP", ":2": "NESTING_TOO_DEEP", ":3": "NESTING_TOO_DEEP", ":4": ACCEPTED}),
        Case("currencies", OCPI, "currencies.jsonl", lines(
            cdr("C-1", currency="XYZ"), cdr("C-2", currency="eur"), cdr("C-3", currency=978), cdr("C-4", currency="XTS")),
            {":1": "INVALID_CURRENCY", ":2": "INVALID_CURRENCY", ":3": "INVALID_CURRENCY", ":4": "INVALID_CURRENCY"}),
        Case("line separators inside valid records", OCPI, "separators.jsonl",
             lines(separators) + b"\r\n" + lines(cdr("SEP-2", auth_method="WHITE\x0cLIST")).replace(b"\n", b"\r\n"),
             {":1": ACCEPTED, ":3": ACCEPTED}),
        Case("malformed bytes", OCPI, "bytes.jsonl",
             b'{"id": "\xff\xfe"}\n' + b'{"id": "B-1", "unterminated\n' + b"   \n" + b"\x00\n",
             {":1": "MALFORMED_JSON", ":2": "MALFORMED_JSON", ":4": "MALFORMED_JSON"}),
        Case("duplicates and versions", OCPI, "versions.jsonl", lines(
            cdr("DUP-1"), cdr("DUP-1"), conflict_a, conflict_b, cdr("VER-1"), newer),
            {":1": ACCEPTED, ":2": "DUPLICATE_RECORD", ":3": "CONFLICTING_VERSION", ":4": "CONFLICTING_VERSION",
             ":5": ACCEPTED, ":6": ACCEPTED}),
        Case("suffixes", OCPI, "upper.JSONL", lines(cdr("SUF-1")), {":1": ACCEPTED}),
        Case("suffixes", OCPI, "export.ndjson", lines(cdr("SUF-2"), cdr("SUF-3")), {":1": ACCEPTED, ":2": ACCEPTED}),
        Case("compressed", OCPI, "day.jsonl.gz", gzip.compress(lines(cdr("GZ-1"), cdr("GZ-2"))),
             {":1": ACCEPTED, ":2": ACCEPTED}),
        Case("compressed", OCPI, "day.ndjson.zst", zstandard.ZstdCompressor().compress(lines(cdr("ZS-1"))),
             {":1": ACCEPTED}),
        Case("compressed", OCPI, "page.json.gz", gzip.compress(json.dumps({"data": [cdr("GZ-3")]}).encode()),
             {"#0": ACCEPTED}),
        # a valid gzip member, then a second member that is garbage: the first line counts, the rest is one record
        Case("compressed", OCPI, "broken.jsonl.gz", gzip.compress(lines(cdr("GZ-4"))) + b"\x1f\x8bgarbage!!",
             {":1": ACCEPTED, ":2": "CORRUPT_FILE"}),
        Case("unknown suffix", OCPI, "notes.txt", b"not a landing file", {"": "UNSUPPORTED_FILE"}),
        Case("unknown suffix", OCPI, "cdrs.csv.gz", gzip.compress(b"id,energy\n1,2\n"), {"": "UNSUPPORTED_FILE"}),
    ]


PLATFORM_CDRS = "platform/cdrs"
PLATFORM_SESSIONS = "platform/sessions"


def _platform_cdr(index: int, **ocpi_changes) -> dict:
    body = platform_data.make_cdr(index, is_local=False)
    body["ocpiData"].update(ocpi_changes)
    return body


def page(*items) -> bytes:
    return json.dumps({"data": list(items), "links": {"next": None}}).encode()


def platform_cdr_cases() -> list[Case]:
    """Platform CDR pages (`platform/cdrs/<day>/`)."""
    far = platform_data.make_cdr(9, is_local=False)
    far["receivedAt"] = "9999-12-31T23:59:59Z"
    garbled = platform_data.make_cdr(10, is_local=False)
    garbled["lastUpdatedAt"] = "not a time"
    deep_page = b'{"data": [' + deep(200).encode() + b"]}"
    return [
        Case("string instead of object", PLATFORM_CDRS, "aaaa0001_cdrs-page-0001.json", page(
            _platform_cdr(1, cdrLocation="LOC-100"), _platform_cdr(2, cdrToken="0123"),
            _platform_cdr(3, chargingPeriods=7), platform_data.make_cdr(4, is_local=False)),
            {"#0": "INVALID_VALUE", "#1": "INVALID_VALUE", "#2": "INVALID_VALUE", "#3": ACCEPTED}),
        Case("absurd and non-finite numbers", PLATFORM_CDRS, "aaaa0001_cdrs-page-0002.json", page(
            _platform_cdr(5, totalEnergy=1e308), _platform_cdr(6, totalTime=1e300), _platform_cdr(7, currency="ZZZ")),
            {"#0": "VALUE_OUT_OF_RANGE", "#1": "VALUE_OUT_OF_RANGE", "#2": "INVALID_CURRENCY"}),
        Case("far-past and far-future dates", PLATFORM_CDRS, "aaaa0001_cdrs-page-0003.json", page(far, garbled),
             {"#0": "TIMESTAMP_OUT_OF_RANGE", "#1": "INVALID_TIMESTAMP"}),
        Case("deep nesting", PLATFORM_CDRS, "aaaa0001_cdrs-page-0004.json", deep_page, {"": "NESTING_TOO_DEEP"}),
        Case("compressed", PLATFORM_CDRS, "aaaa0001_cdrs-page-0005.json.gz",
             gzip.compress(page(platform_data.make_cdr(11, is_local=False))), {"#0": ACCEPTED}),
        Case("unknown suffix", PLATFORM_CDRS, "aaaa0001_cdrs-page-0006.jsonl",
             lines(platform_data.make_cdr(12, is_local=False)), {"": "UNSUPPORTED_FILE"}),
        Case("duplicates and versions", PLATFORM_CDRS, "bbbb0002_cdrs-page-0001.json", page(
            platform_data.make_cdr(4, is_local=False), _platform_cdr(13), _platform_cdr(13, totalCost=99.0)),
            {"#0": "DUPLICATE_RECORD", "#1": "CONFLICTING_VERSION", "#2": "CONFLICTING_VERSION"}),
    ]


def platform_session_cases() -> list[Case]:
    """Platform session pages (`platform/sessions/<day>/`)."""
    def session(index: int, **changes) -> dict:
        body = platform_data.make_session(index)
        body.update(changes)
        return body
    return [
        Case("string instead of object", PLATFORM_SESSIONS, "cccc0003_sessions-page-0001.json", page(
            session(1, energyConsumption="12 kWh"), session(2, chargingPeriods=3), session(3, authorization="rfid"),
            session(4, power={"peak": 1e308}), session(5, totalAmount=[1, 2]), session(6)),
            {"#0": "INVALID_VALUE", "#1": "INVALID_VALUE", "#2": "INVALID_VALUE", "#3": "VALUE_OUT_OF_RANGE",
             "#4": "INVALID_VALUE", "#5": ACCEPTED}),
    ]


EEVION_LISTING = "eevion/sessions"
EEVION_HOOKS = "eevion/webhooks"


def eevion_cases() -> list[Case]:
    """Eevion listing pages and webhook bodies."""
    def session(index: int, **changes) -> dict:
        body = eevion_session(index)
        body.update(changes)
        return body
    return [
        Case("string instead of object", EEVION_LISTING, "dddd0004-page-0001.json", json.dumps([
            session(1, location="Toronto"), session(2, taxes="13%"), session(3, tariff=0.3), session(4)]).encode(),
            {"#0": "INVALID_VALUE", "#1": "INVALID_VALUE", "#2": "INVALID_VALUE", "#3": ACCEPTED}),
        Case("far-past and far-future dates", EEVION_LISTING, "dddd0004-page-0002.json", json.dumps([
            session(5, updatedAt=10**20), session(6, endTime="2200-01-01T00:00:00Z"),
            session(7, energy=1e308), session(8, currency="CAN")]).encode(),
            {"#0": "INVALID_TIMESTAMP", "#1": "TIMESTAMP_OUT_OF_RANGE", "#2": "VALUE_OUT_OF_RANGE",
             "#3": "INVALID_CURRENCY"}),
        Case("compressed", EEVION_HOOKS, "s9-abcdef01.json.zst",
             zstandard.ZstdCompressor().compress(json.dumps(session(9)).encode()), {"": ACCEPTED}),
        Case("duplicates and versions", EEVION_HOOKS, "s4-abcdef02.json", json.dumps(session(4)).encode(),
             {"": "DUPLICATE_RECORD"}),
        Case("line separators inside valid records", EEVION_HOOKS, "s10-abcdef03.json",
             json.dumps(session(10, endReason="stopped\u2028by\u2029user\u0085"), ensure_ascii=False).encode(),
             {"": ACCEPTED}),
    ]


INTERVALS = "interval_charges"


def interval_cases() -> list[Case]:
    """Interval charge files (`interval_charges/<day>/<provider>-<seq>.json`)."""
    def charge(cid: str, **changes) -> dict:
        body = {"chargeExternalId": cid, "chargePointExternalId": "HC-1", "startDateTime": "2026-10-24T20:00:00Z",
                "endDateTime": "2026-10-24T21:00:00Z", "totalKwh": 3.0,
                "intervals": [{"startDateTime": "2026-10-24T20:00:00Z", "endDateTime": "2026-10-24T20:30:00Z", "kwh": 1.0},
                              {"startDateTime": "2026-10-24T20:30:00Z", "endDateTime": "2026-10-24T21:00:00Z", "kwh": 2.0}]}
        body.update(changes)
        return body
    doc = lambda *charges: json.dumps({"charges": list(charges)}).encode()  # noqa: E731
    return [
        Case("string instead of object", INTERVALS, "homeco-0001.json",
             doc(charge("I-1", intervals=7), charge("I-6", chargePointExternalId={"id": 1})),
             {"#0": "INVALID_VALUE", "#1": "INVALID_VALUE"}),
        Case("absurd and non-finite numbers", INTERVALS, "homeco-0004.json",
             doc(charge("I-2", totalKwh=1e308, intervals=[]), charge("I-7", totalKwh=1.0000001, intervals=[])),
             {"#0": "VALUE_OUT_OF_RANGE", "#1": "PRECISION_LOSS"}),
        Case("far-past and far-future dates", INTERVALS, "homeco-0005.json",
             doc(charge("I-3", endDateTime="2200-01-01T00:00:00Z", intervals=[])), {"#0": "TIMESTAMP_OUT_OF_RANGE"}),
        Case("duplicates and versions", INTERVALS, "homeco-0006.json",
             doc(charge("I-4"), charge("I-4"), charge("I-5"), charge("I-5", totalKwh=3.0001, intervals=[])),
             {"#0": ACCEPTED, "#1": "DUPLICATE_RECORD", "#2": "CONFLICTING_VERSION", "#3": "CONFLICTING_VERSION"}),
        Case("compressed", INTERVALS, "homeco-0002.json.gz", gzip.compress(json.dumps({"charges": [charge("I-8")]}).encode()),
             {"#0": ACCEPTED}),
        Case("unknown suffix", INTERVALS, "homeco-0003.xml", b"<charges/>", {"": "UNSUPPORTED_FILE"}),
    ]


PARTNERS = "partners"
EMP = "2e49b853-36fc-47ed-9826-97828b5b2fdd"
CPO = "1e49b853-36fc-47ed-9826-97828b5b2fdd"


def company(cid: str, version: int, name: str, *, is_emp: bool = True, relationships=None, **attributes) -> dict:
    attrs = {"name": name, "version": version, "is_cpo": not is_emp, "is_emp": is_emp,
             "external_source_mapping": {}, "created_at": 1546297200000, "updated_at": 1546297200000 + version}
    attrs.update(attributes)
    return {"data": {"id": cid, "type": "company", "attributes": attrs,
                     "relationships": {"supported_emps": {"data": []}} if relationships is None else relationships}}


def partner_cases() -> list[Case]:
    """Company documents (`partners/<day>/`), one document per file."""
    doc = lambda body: json.dumps(body).encode()  # noqa: E731
    return [
        Case("string instead of object", PARTNERS, "0001.json", doc(company(EMP, 1, "Plugsurfing", relationships="none")),
             {"": "INVALID_VALUE"}),
        Case("far-past and far-future dates", PARTNERS, "0002.json", doc(company(EMP, 1, "Plugsurfing", created_at=10**17)),
             {"": "TIMESTAMP_OUT_OF_RANGE"}),
        # beyond 64 bits: JSON gives a float, which is no epoch milliseconds
        Case("far-past and far-future dates", PARTNERS, "0010.json", doc(company(EMP, 1, "Plugsurfing", updated_at=10**20)),
             {"": "INVALID_TIMESTAMP"}),
        Case("absurd and non-finite numbers", PARTNERS, "0003.json",
             doc(company(EMP, 1, "Plugsurfing")).replace(b'"version": 1', f'"version": {DIGITS_5000}'.encode()),
             {"": "MALFORMED_JSON"}),
        Case("deep nesting", PARTNERS, "0004.json",
             doc(company(EMP, 1, "Plugsurfing")).replace(b'"external_source_mapping": {}',
                                                         b'"external_source_mapping": {"a": ' + deep(80).encode() + b"}"),
             {"": "NESTING_TOO_DEEP"}),
        Case("duplicates and versions", PARTNERS, "0005.json", doc(company(EMP, 1, "Plugsurfing")), {"": ACCEPTED}),
        Case("duplicates and versions", PARTNERS, "0006.json", doc(company(EMP, 1, "Plugsurfing")), {"": "DUPLICATE_RECORD"}),
        # the seed's optimistic lock answers a conflicting version with its own code (409 VERSION_CONFLICT)
        Case("duplicates and versions", PARTNERS, "0007.json", doc(company(EMP, 1, "Plugsurfing GmbH")),
             {"": "VERSION_CONFLICT"}),
        Case("compressed", PARTNERS, "0008.json.gz", gzip.compress(doc(company(CPO, 1, "EnBW", is_emp=False))),
             {"": ACCEPTED}),
        Case("unknown suffix", PARTNERS, "0009.yaml", b"data: {}", {"": "UNSUPPORTED_FILE"}),
    ]


def land(root: Path, day: str, cases: list[Case]) -> dict[str, str]:
    """Write the cases' files under `root` for `day`; returns every expected record ref → outcome."""
    expected: dict[str, str] = {}
    for case in cases:
        path = root / case.folder / day / case.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(case.content)
        expected.update(case.refs(day))
    return expected
