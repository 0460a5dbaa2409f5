"""Injected faults: every kind present, counted exactly, and visible in the files where the manifest says."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

from data.config import GeneratorConfig
from data.generate import run
from data.manifest import FAULT_KINDS

REGISTER = "Energy.Active.Import.Register"


def _calls(ocpp_lines):
    """(envelope, frame) of every well-formed inbound call."""
    for _, env, _ in ocpp_lines:
        if env and env["direction"] == "in":
            yield env, json.loads(env["raw"])


def _sampled(frame) -> list[dict]:
    payload = frame[3]
    values = []
    for mv in payload.get("meterValue") or payload.get("transactionData") or []:
        values.extend(mv["sampledValue"])
    return values


def test_every_fault_kind_is_injected(small_run):
    _, manifest = small_run
    for kind in FAULT_KINDS:
        assert manifest["faults"][kind]["count"] > 0, kind
        assert len(manifest["faults"][kind]["refs"]) == manifest["faults"][kind]["count"]


def test_fault_rate_is_respected(small_run):
    _, manifest = small_run
    session_faults = sum(f["count"] for k, f in manifest["faults"].items() if k != "version_conflict")
    eligible = manifest["totals"]["sessions"]
    # 35 % requested; at most one fault per delivered session.
    assert 0.25 * eligible < session_faults <= 0.45 * eligible


def test_zero_fault_rate_injects_nothing(tmp_path):
    manifest = run(GeneratorConfig(out=tmp_path, seed=3, start=dt.date(2026, 10, 24), days=1,
                                   sessions_per_day=60, fault_rate=0.0))
    assert all(f["count"] == 0 for f in manifest["faults"].values())
    for path in (tmp_path / "ocpi_cdrs").rglob("*.jsonl"):
        for line in path.read_text().splitlines():
            json.loads(line)


def test_malformed_lines_match_refs(small_run, ocpp_lines):
    root, manifest = small_run
    refs = manifest["faults"]["malformed_json"]["refs"]
    bad_ocpp = [(rel, raw) for rel, env, raw in ocpp_lines if env is None]
    assert len(bad_ocpp) == sum(1 for r in refs if r["source"] == "ocpp")
    for ref in refs:
        if ref["source"] == "ocpi_cdrs":
            line = (root / ref["file"]).read_text().splitlines()[ref["line"] - 1]
            try:
                json.loads(line)
                raise AssertionError(f"{ref['file']}:{ref['line']} parses")
            except json.JSONDecodeError:
                pass
        else:
            assert any(rel == ref["file"] and ref["message_id"] in raw for rel, raw in bad_ocpp)


def test_duplicate_frames(small_run, ocpp_lines):
    _, manifest = small_run
    seen = Counter((env["charge_point_id"], env["message_id"]) for env, _ in _calls(ocpp_lines))
    duplicated = {key for key, n in seen.items() if n > 1}
    refs = {(r["charge_point_id"], r["message_id"]) for r in manifest["faults"]["duplicate_frame"]["refs"]}
    assert duplicated == refs


def test_begin_zero_and_duplicate_contexts(small_run, ocpp_lines):
    _, manifest = small_run
    zero_begin = set()
    mixed_context = set()
    for env, frame in _calls(ocpp_lines):
        if frame[2] not in ("MeterValues", "TransactionEvent"):
            continue
        session = env["message_id"].split("-")[0]
        registers = [sv for sv in _sampled(frame) if sv.get("measurand") == REGISTER]
        if any(sv.get("context") == "Transaction.Begin" and float(sv["value"]) == 0 for sv in registers):
            zero_begin.add(session)
        if len({sv.get("context") for sv in registers}) > 1:
            mixed_context.add(session)
    assert zero_begin == {r["session"][1:] for r in manifest["faults"]["transaction_begin_zero"]["refs"]}
    assert mixed_context == {r["session"][1:] for r in manifest["faults"]["duplicate_register_context"]["refs"]}


def test_register_resets_and_rollbacks_decrease(small_run, ocpp_lines):
    _, manifest = small_run
    periodic: dict[str, list[tuple[str, float]]] = {}
    for env, frame in _calls(ocpp_lines):
        if frame[2] in ("MeterValues", "TransactionEvent"):
            for mv in frame[3].get("meterValue", []):
                for sv in mv["sampledValue"]:
                    if sv.get("measurand") == REGISTER and sv.get("context") == "Sample.Periodic":
                        session = env["message_id"].split("-")[0]
                        periodic.setdefault(session, []).append((mv["timestamp"], float(sv["value"])))
    decreasing = set()
    for session, readings in periodic.items():
        values = [v for _, v in sorted(set(readings))]
        if any(b < a for a, b in zip(values, values[1:])):
            decreasing.add(session)
    expected = {r["session"][1:] for k in ("register_reset", "register_rollback")
                for r in manifest["faults"][k]["refs"]}
    # Clock-skewed or out-of-order sessions still have monotone registers by timestamp.
    assert expected and expected <= decreasing
    assert decreasing == expected


def test_clock_faults_shift_payload_time(small_run, ocpp_lines):
    _, manifest = small_run
    skew_sessions = {r["session"][1:] for r in manifest["faults"]["clock_skew"]["refs"]}
    local_sessions = {r["session"][1:] for r in manifest["faults"]["local_time_as_utc"]["refs"]}
    offsets: dict[str, set[int]] = {}
    for env, frame in _calls(ocpp_lines):
        stamp = frame[3].get("timestamp")
        if not stamp or frame[2] != "StartTransaction" and frame[3].get("eventType") != "Started":
            continue
        sent = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        received = dt.datetime.fromisoformat(env["received_at"].replace("Z", "+00:00"))
        offsets.setdefault(env["message_id"].split("-")[0], set()).add(round((received - sent).total_seconds()))
    for session in skew_sessions:
        assert all(abs(o) >= 100 for o in offsets[session]), session
    for session in local_sessions:
        # Local time labelled Z: off by the zone's whole-hour offset (zero only for London in winter).
        assert all(min(abs(o) % 3600, 3600 - abs(o) % 3600) <= 2 for o in offsets[session]), session
    normal = set(offsets) - skew_sessions - local_sessions
    assert normal and all(abs(o) <= 2 for s in normal for o in offsets[s])


def test_out_of_order_frames_arrive_after_later_ones(small_run, ocpp_lines):
    _, manifest = small_run
    targets = {r["session"][1:] for r in manifest["faults"]["out_of_order"]["refs"]}
    by_session: dict[str, list[tuple[str, str]]] = {}
    for env, frame in _calls(ocpp_lines):
        session = env["message_id"].split("-")[0]
        if session in targets and frame[2] in ("MeterValues", "TransactionEvent") and frame[3].get("meterValue"):
            by_session.setdefault(session, []).append((env["received_at"], frame[3]["meterValue"][0]["timestamp"]))
    assert by_session
    for session, rows in by_session.items():
        stamps = [s for _, s in sorted(rows)]
        assert stamps != sorted(stamps), session


def test_cdr_content_faults(small_run, cdrs):
    root, manifest = small_run
    known = {p.stem for p in (root / "tariffs" / "ocpi").glob("*.json")}
    currency_of = {o["id"]: o["currency"] for o in json.loads((root / "reference" / "operators.json").read_text())}
    unknown = {c["id"] for _, _, c in cdrs if any(p["tariff_id"] not in known for p in c["charging_periods"])}
    mismatch = {c["id"] for _, _, c in cdrs if c["currency"] != currency_of[f"{c['country_code']}-{c['party_id']}"]}
    assert unknown == {r["cdr_id"] for r in manifest["faults"]["unknown_tariff"]["refs"]}
    assert mismatch == {r["cdr_id"] for r in manifest["faults"]["currency_mismatch"]["refs"]}


def test_late_arrivals_land_on_a_later_day(small_run, cdrs):
    root, manifest = small_run
    refs = manifest["faults"]["late_arrival"]["refs"]
    assert {r["source"] for r in refs} == {"ocpi_cdrs", "platform", "eevion", "interval_charges"}
    end_of = {c["id"]: c["end_date_time"][:10] for _, _, c in cdrs}
    for ref in refs:
        if ref["source"] == "ocpi_cdrs":
            assert ref["landing_date"] > end_of[ref["cdr_id"]]
            assert ref["file"].split("/")[1] == ref["landing_date"]
        elif ref["source"] == "eevion":
            body = json.loads((root / ref["file"]).read_text())
            assert ref["landing_date"] > body["endTime"][:10]


def test_partner_version_conflict(small_run):
    root, manifest = small_run
    ref = manifest["faults"]["version_conflict"]["refs"][0]
    docs = [json.loads(p.read_text()) for p in sorted(Path(root, "partners").rglob("*.json"))]
    versions = [d["data"]["attributes"]["version"] for d in docs if d["data"]["id"] == ref["company_id"]]
    assert versions == [1, 2, 2]
