"""OCPI CDR files → ocpi_cdrs (+ quarantine) → sessions, through Dagster, on a temp warehouse."""

import copy
import datetime as dt
import hashlib
import json
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest

from assets.ingest.ocpi_cdrs.assets import ocpi_cdrs
from assets.reference.assets import locations, operators
from assets.sessions.assets import sessions

# The OCPI 2.2.1 specification's CDR example, copied verbatim.
# The OCPI 2.2.1 specification's CDR example, copied verbatim, moved from 2015-06-29 to 2026-10-24 (same
# clock times) so that it falls inside the pipeline's partitions.
SPEC_CDR = json.loads((Path(__file__).parent / "fixtures" / "cdr_example.json").read_text()
                      .replace("2015-06-29", "2026-10-24"))


def camel(value):
    """The same object with camelCase keys, as some senders write OCPI."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            head, *rest = key.split("_")
            out[head + "".join(p.title() for p in rest)] = camel(item)
        return out
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def cdr(cdr_id: str, **changes) -> dict:
    body = copy.deepcopy(SPEC_CDR)
    body["id"] = cdr_id
    body.update(changes)
    return body


CDR_211 = {
    "id": "OLD-1", "start_date_time": "2026-10-24T22:30:00Z", "stop_date_time": "2026-10-24T23:30:00Z",
    "auth_id": "TOKEN-9", "auth_method": "AUTH_REQUEST",
    "location": {"id": "LON-1", "type": "ON_STREET", "address": "1 Road", "city": "London", "country": "GBR",
                 "coordinates": {"latitude": "51.5", "longitude": "-0.1"},
                 "evses": [{"uid": "E1", "status": "AVAILABLE", "connectors": [{"id": "2"}]}]},
    "currency": "GBP", "tariffs": [{"id": "T-GB", "currency": "GBP", "elements": []}],
    "charging_periods": [{"start_date_time": "2026-10-24T22:30:00Z", "dimensions": [{"type": "ENERGY", "volume": 7.5}]}],
    "total_cost": 3.75, "total_energy": 7.5, "total_time": 1.0, "last_updated": "2026-10-24T23:31:00Z",
}


@pytest.fixture
def landed(tmp_landing):
    root = tmp_landing.root_path
    (root / "reference").mkdir(parents=True)
    (root / "reference" / "operators.json").write_text(json.dumps([
        {"id": "BE-BEC", "name": "Gent Charging", "country": "BE", "time_zone": "Europe/Brussels", "currency": "EUR"},
        {"id": "GB-LDN", "name": "London Charge", "country": "GB", "time_zone": "Europe/London", "currency": "GBP"},
    ]))
    (root / "reference" / "locations.json").write_text(json.dumps([
        {"id": "LOC1", "country_code": "BE", "party_id": "BEC", "operator_id": "BE-BEC", "time_zone": "Europe/Brussels",
         "evses": [{"uid": "3256"}]},
    ]))
    day1 = root / "ocpi_cdrs" / "2026-10-25"
    day1.mkdir(parents=True)
    lines = [
        json.dumps(SPEC_CDR),                                   # 1 accepted (the spec example)
        json.dumps(camel(cdr("CAMEL-1"))),                      # 2 accepted, camelCase keys
        "{\"id\": \"BROKEN\", \"start_date_time\": ",           # 3 MALFORMED_JSON
        json.dumps(SPEC_CDR),                                   # 4 DUPLICATE_RECORD of line 1
        json.dumps(cdr("UNK-1", charging_periods=[{"start_date_time": "2026-10-24T21:39:09Z",
                                                    "dimensions": [{"type": "TIME", "volume": 1}], "tariff_id": "NOPE"}])),
        json.dumps(cdr("CUR-1", currency="GBP")),               # 6 CURRENCY_MISMATCH (tariff 12 is EUR)
        json.dumps(cdr("TZ-1", cdr_location={**SPEC_CDR["cdr_location"], "id": "TOR-9", "country": "CAN"})),
        json.dumps(cdr("NEG-1", total_energy=-1)),              # 8 NEGATIVE_ENERGY
        "",                                                     # blank lines are not records
    ]
    (day1 / "bec-0001.jsonl").write_text("\n".join(lines) + "\n")
    (day1 / "page-0001.json").write_text(json.dumps({"data": [CDR_211], "status_code": 1000}))
    (day1 / "page-0002.json").write_text("{not json")
    # A corrected version of CAMEL-1 lands a day later: the sessions table keeps only the newer one.
    day2 = root / "ocpi_cdrs" / "2026-10-26"
    day2.mkdir(parents=True)
    newer = cdr("CAMEL-1", total_energy=16.0, last_updated="2026-10-25T08:00:00Z")
    (day2 / "bec-0002.jsonl").write_text(json.dumps(newer) + "\n")
    return tmp_landing


def _run(assets, resources, partition_key=None):
    result = dg.materialize(assets, resources=resources, partition_key=partition_key)
    assert result.success
    return result


def test_cdrs_validated_quarantined_and_settled(landed, tmp_warehouse):
    resources = {"warehouse": tmp_warehouse, "landing": landed}
    _run([operators, locations], resources)
    result = _run([ocpi_cdrs], resources, "2026-10-25")

    accepted = tmp_warehouse.read("ocpi_cdrs").sort("record_ref")
    assert accepted["source_id"].to_list() == ["12345", "CAMEL-1", "OLD-1"]
    quarantine = tmp_warehouse.read("quarantine", source_asset="ocpi_cdrs", partition_key="2026-10-25")
    assert sorted(quarantine["reason_code"].to_list()) == [
        "CURRENCY_MISMATCH", "DUPLICATE_RECORD", "MALFORMED_JSON", "MALFORMED_JSON", "NEGATIVE_ENERGY",
        "NO_TIME_ZONE", "UNKNOWN_TARIFF"]
    by_ref = dict(zip(quarantine["record_ref"], quarantine["reason_code"]))
    assert by_ref["ocpi_cdrs/2026-10-25/bec-0001.jsonl:4"] == "DUPLICATE_RECORD"
    assert by_ref["ocpi_cdrs/2026-10-25/page-0002.json"] == "MALFORMED_JSON"

    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["conservation"].passed
    assert checks["conservation"].metadata["rows_in"].value == 10
    assert checks["schema"].passed

    spec = accepted.filter(source_id="12345").row(0, named=True)
    # Ends 23:37:32Z = 01:37 CEST on 25 October in Gent: settles on the local date.
    assert spec["settlement_date"] == dt.date(2026, 10, 25)
    assert spec["time_zone"] == "Europe/Brussels"
    assert spec["energy_wh"] == 15342.0
    assert spec["reported_cost_excl_vat"] == Decimal("4.0000")
    assert spec["reported_cost_incl_vat"] == Decimal("4.4000")
    assert spec["session_id"] == "ocpi:BE-BEC:12345"
    assert spec["operator_id"] == "BE-BEC"
    old = accepted.filter(source_id="OLD-1").row(0, named=True)
    assert old["time_zone"] == "Europe/London" and old["settlement_date"] == dt.date(2026, 10, 25)
    assert old["reported_cost_excl_vat"] == Decimal("3.7500") and old["reported_cost_incl_vat"] is None

    _run([ocpi_cdrs], resources, "2026-10-26")
    _run([sessions], resources, "2026-10-25")
    settled = tmp_warehouse.read("sessions", settlement_date=dt.date(2026, 10, 25)).sort("session_id")
    # OLD-1 (2.1.1) ends 23:30Z on 24 Oct = 00:30 BST on 25 Oct in London: same settlement date.
    assert settled["session_id"].to_list() == ["ocpi:BE-BEC:12345", "ocpi:BE-BEC:CAMEL-1", "ocpi:GBR:OLD-1"]
    # The later correction of CAMEL-1 wins.
    assert settled.filter(source_id="CAMEL-1")["energy_wh"].item() == 16000.0


def test_rerun_is_byte_identical(landed, tmp_warehouse):
    resources = {"warehouse": tmp_warehouse, "landing": landed}
    _run([operators, locations], resources)

    def digest():
        files = sorted(p for p in tmp_warehouse.root_path.rglob("*.parquet"))
        return {str(p.relative_to(tmp_warehouse.root_path)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}

    _run([ocpi_cdrs], resources, "2026-10-25")
    _run([sessions], resources, "2026-10-25")
    first = digest()
    _run([ocpi_cdrs], resources, "2026-10-25")
    _run([sessions], resources, "2026-10-25")
    assert digest() == first
    assert tmp_warehouse.read("sessions").height == 3
