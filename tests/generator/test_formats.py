"""Files parse the way the seeds and the OCPP/OCPI specifications say."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from tests.generator.conftest import page_items

# Seed examples copied into the repository (tests/fixtures/PROVENANCE.md).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SEED_001_EXAMPLES = FIXTURES / "seed-001-examples"


def _schema(protocol: str, action: str, response: bool):
    if protocol == "ocpp1.6":
        name = f"{action}Response.json" if response else f"{action}.json"
        folder = "v16"
    else:
        name = f"{action}{'Response' if response else 'Request'}.json"
        folder = "v201"
    return json.loads(resources.files("ocpp").joinpath(folder, "schemas", name).read_text())


def test_ocpp_frames_validate_against_the_ocpp_schemas(ocpp_lines):
    pending: dict[tuple[str, str], tuple[str, str]] = {}
    validated = {"ocpp1.6": set(), "ocpp2.0.1": set()}
    cache: dict[tuple[str, str, bool], dict] = {}
    checked: dict[tuple[str, str, bool], int] = {}
    frames = [(env, json.loads(env["raw"])) for _, env, _ in ocpp_lines if env is not None]
    for env, frame in frames:
        if env["direction"] == "in":
            pending[(env["charge_point_id"], env["message_id"])] = (env["protocol"], frame[2])
    answered = 0
    for env, frame in frames:
        assert frame[1] == env["message_id"]
        key = (env["charge_point_id"], env["message_id"])
        if env["direction"] == "in":
            assert frame[0] == 2 and isinstance(frame[3], dict)
            action, payload, response = frame[2], frame[3], False
        else:
            assert frame[0] == 3
            if key not in pending:  # the call line itself was written malformed
                continue
            _, action = pending[key]
            payload, response = frame[2], True
            answered += 1
        schema_key = (env["protocol"], action, response)
        checked[schema_key] = checked.get(schema_key, 0) + 1
        if checked[schema_key] > 400:  # a few hundred of each kind is plenty; keeps the test fast
            continue
        if schema_key not in cache:
            schema = _schema(env["protocol"], action, response)
            cache[schema_key] = jsonschema.validators.validator_for(schema)(schema)
        cache[schema_key].validate(payload)
        validated[env["protocol"]].add(action)
    assert answered > 1000
    assert {"BootNotification", "StatusNotification", "Authorize", "StartTransaction", "MeterValues",
            "StopTransaction"} <= validated["ocpp1.6"]
    assert {"BootNotification", "StatusNotification", "TransactionEvent", "MeterValues"} <= validated["ocpp2.0.1"]


def test_ocpp_sampled_values(ocpp_lines):
    measurands = {"ocpp1.6": set(), "ocpp2.0.1": set()}
    for _, env, _ in ocpp_lines:
        if env is None or env["direction"] != "in":
            continue
        frame = json.loads(env["raw"])
        for mv in frame[3].get("meterValue", []):
            for sv in mv["sampledValue"]:
                measurands[env["protocol"]].add((sv.get("measurand"), sv.get("phase"), sv.get("context")))
                if env["protocol"] == "ocpp1.6":
                    assert isinstance(sv["value"], str)
                else:
                    assert isinstance(sv["value"], (int, float)) and "unitOfMeasure" in sv
    m16 = measurands["ocpp1.6"]
    assert ("Current.Import", "L1", "Sample.Periodic") in m16
    assert ("Current.Import", "L3", "Sample.Periodic") in m16
    assert ("Energy.Active.Import.Register", None, "Transaction.Begin") in m16
    m201 = measurands["ocpp2.0.1"]
    assert ("SoC", None, "Sample.Periodic") in m201
    assert ("Energy.Active.Import.Register", None, "Sample.Clock") in m201
    assert ("Energy.Active.Import.Register", None, "Transaction.End") in m201


def test_ocpp_201_sequence_numbers_are_gapless(ocpp_lines):
    seqs: dict[str, set[int]] = {}
    for _, env, _ in ocpp_lines:
        if env and env["direction"] == "in" and env["protocol"] == "ocpp2.0.1":
            frame = json.loads(env["raw"])
            if frame[2] == "TransactionEvent":
                seqs.setdefault(frame[3]["transactionInfo"]["transactionId"], set()).add(frame[3]["seqNo"])
    assert seqs
    # Malformed lines can hide one event; everything else numbers 0..n without gaps.
    assert sum(1 for s in seqs.values() if s == set(range(len(s)))) >= len(seqs) - 5


def test_ocpi_cdrs_have_the_221_shape(cdrs):
    required = {"country_code", "party_id", "id", "start_date_time", "end_date_time", "cdr_token", "auth_method",
                "cdr_location", "currency", "charging_periods", "total_cost", "total_energy", "total_time",
                "last_updated"}
    for _, _, cdr in cdrs:
        assert required <= set(cdr)
        assert {"evse_uid", "evse_id", "connector_id", "connector_standard", "connector_format",
                "connector_power_type", "country"} <= set(cdr["cdr_location"])
        assert len(cdr["id"]) <= 39 and len(cdr["cdr_location"]["country"]) == 3
        for period in cdr["charging_periods"]:
            assert {d["type"] for d in period["dimensions"]} <= {"ENERGY", "TIME", "PARKING_TIME", "MAX_POWER"}


def test_platform_pages_match_seed_001(small_run):
    root, _ = small_run
    example_session = json.loads((SEED_001_EXAMPLES / "session.json").read_text())["data"]
    example_cdr = json.loads((SEED_001_EXAMPLES / "cdr.json").read_text())["data"]
    pages = sorted((root / "platform" / "sessions").rglob("*.json"))
    assert pages
    for path in pages:
        body = json.loads(path.read_text())
        assert set(body) == {"data", "links", "meta"}
        assert set(body["meta"]) == {"path", "per_page", "next_cursor", "prev_cursor"}
        assert len(body["data"]) <= 100
        assert (body["links"]["next"] is None) == (body["meta"]["next_cursor"] is None)
    sessions = [s for v in page_items(root, "platform/sessions").values() for s in v]
    finished = [s for s in sessions if s["status"] == "finished"]
    for s in finished:
        # Every field we send exists in the seed's session; the seed's required ones are all present.
        assert set(s) - set(example_session) <= {"socPercent"}
        assert {"id", "operatorId", "chargePointId", "evseId", "status", "userId", "startedAt",
                "authorizationId", "energy", "energyConsumption", "billingStatus"} <= set(s)
    for cdr in (c for v in page_items(root, "platform/cdrs").values() for c in v):
        assert set(cdr) == set(example_cdr)
        assert set(cdr["ocpiData"]) == set(example_cdr["ocpiData"])
        assert set(cdr["ocpiData"]["cdrLocation"]) == set(example_cdr["ocpiData"]["cdrLocation"])


def test_eevion_bodies_match_seed_003(small_run):
    root, _ = small_run
    # seed 003's "Get a session" example response (the webhook posts the same body)
    example = json.loads((FIXTURES / "seed-003" / "get-session-response.json").read_text())
    listing = [s for v in page_items(root, "eevion/sessions").values() for s in v]
    hooks = [json.loads(p.read_text()) for p in (root / "eevion" / "webhooks").rglob("*.json")]
    assert listing and hooks
    for body in listing + hooks:
        assert set(body) - {"stationLastHeartbeat"} == set(example) - {"stationLastHeartbeat"}
        assert set(body["location"]) == set(example["location"])
    listing_ids = {s["sessionId"] for s in listing}
    assert {h["sessionId"] for h in hooks} <= listing_ids


def test_interval_files_and_partner_documents(small_run):
    root, _ = small_run
    for path in (root / "interval_charges").rglob("*.json"):
        assert path.name.startswith("homecharge-")
        body = json.loads(path.read_text())
        assert set(body) == {"charges"}
        for charge in body["charges"]:
            assert {"chargeExternalId", "chargePointExternalId", "startDateTime", "endDateTime",
                    "consumptionKwh", "intervals"} == set(charge)
    for path in (root / "partners").rglob("*.json"):
        doc = json.loads(path.read_text())["data"]
        assert doc["type"] == "company"
        assert {"name", "version", "is_cpo", "is_emp", "external_source_mapping", "created_at",
                "updated_at"} <= set(doc["attributes"])
        assert all(e["type"] == "company" for e in doc["relationships"]["supported_emps"]["data"])


def test_reference_and_tariffs(small_run):
    root, _ = small_run
    operators = json.loads((root / "reference" / "operators.json").read_text())
    assert {(o["time_zone"], o["currency"]) for o in operators} >= {
        ("Europe/London", "GBP"), ("Europe/Amsterdam", "EUR"), ("America/Toronto", "CAD")}
    locations = json.loads((root / "reference" / "locations.json").read_text())
    powers = {c["power_type"]: set() for loc in locations for e in loc["evses"] for c in e["connectors"]}
    for loc in locations:
        assert loc["time_zone"] and loc["operator_id"] in {o["id"] for o in operators}
        for evse in loc["evses"]:
            for c in evse["connectors"]:
                powers[c["power_type"]].add(c["max_electric_power"])
    assert max(powers["DC"]) <= 350_000 and min(powers["DC"]) >= 50_000
    assert min(min(powers["AC_1_PHASE"]), min(powers["AC_3_PHASE"])) >= 7_000
    platform_types = {json.loads(p.read_text())["data"]["type"] for p in (root / "tariffs" / "platform").glob("*.json")}
    assert len(platform_types) == 11
    assert len(list((root / "tariffs" / "ocpi").glob("*.json"))) >= 6
    assert {json.loads(p.read_text())["type"] for p in (root / "tariffs" / "eevion").glob("*.json")} == {"kwh", "time"}


@pytest.mark.parametrize("folder", ["ocpi_cdrs"])
def test_cdr_files_are_named_by_sender(small_run, folder):
    root, _ = small_run
    names = {p.name.rsplit("-", 1)[0] for p in (root / folder).rglob("*.jsonl")}
    assert names == {"GB-VLT", "NL-GRX", "CA-MPL"}
