"""Every count in `_manifest.json` equals what the files on disk contain."""

from __future__ import annotations

import json
from collections import Counter

from tests.generator.conftest import page_items


def test_ocpp_frames_per_landing_day(small_run, ocpp_lines):
    _, manifest = small_run
    per_day = Counter(rel.split("/")[1] for rel, _, _ in ocpp_lines)
    assert dict(per_day) == {d: m["frames"] for d, m in manifest["counts"]["ocpp"].items()}
    # Each hourly file holds exactly the frames received in that UTC hour, in receive order.
    for rel, env, _ in ocpp_lines:
        if env is not None:
            assert env["received_at"][:10] == rel.split("/")[1]
            assert env["received_at"][11:13] == rel.split("/")[2]


def test_ocpp_files_are_in_receive_order(small_run, ocpp_lines):
    by_file: dict[str, list[str]] = {}
    for rel, env, _ in ocpp_lines:
        if env is not None:
            by_file.setdefault(rel, []).append(env["received_at"])
    assert by_file
    for stamps in by_file.values():
        assert stamps == sorted(stamps)


def test_ocpp_sessions_and_cancelled(small_run, ocpp_lines):
    _, manifest = small_run
    first_day: dict[str, str] = {}
    for rel, env, _ in ocpp_lines:
        if env and env["direction"] == "in":
            frame = json.loads(env["raw"])
            is_start = frame[2] == "StartTransaction" or (
                frame[2] == "TransactionEvent" and frame[3]["eventType"] == "Started")
            if is_start:
                # A duplicated Start frame repeats its message id; the session counts once, where it first landed.
                first_day.setdefault(frame[1], rel.split("/")[1])
    per_day = Counter(first_day.values())
    assert dict(per_day) == {d: m["sessions"] for d, m in manifest["counts"]["ocpp"].items() if "sessions" in m}
    assert sum(m.get("cancelled", 0) for m in manifest["counts"]["ocpp"].values()) > 0


def test_cdr_counts(small_run, cdrs):
    root, manifest = small_run
    lines = Counter()
    for path in (root / "ocpi_cdrs").rglob("*.jsonl"):
        lines[path.parent.name] += len(path.read_text().splitlines())
    counts = manifest["counts"]["ocpi_cdrs"]
    assert dict(lines) == {d: m["cdrs"] for d, m in counts.items()}
    faulty = sum(manifest["faults"][k]["by_source"].get("ocpi_cdrs", 0)
                 for k in ("malformed_json", "unknown_tariff", "currency_mismatch"))
    assert sum(m["valid"] for m in counts.values()) == sum(lines.values()) - faulty
    expected = manifest["expected_ocpi_cdrs"]
    assert expected["lines"] == sum(lines.values())
    assert expected["accepted"] + sum(expected["quarantined_by_reason"].values()) == expected["lines"]
    assert expected["quarantined_by_reason"]["MALFORMED_JSON"] == manifest["faults"]["malformed_json"]["by_source"][
        "ocpi_cdrs"]


def test_platform_and_eevion_counts(small_run):
    root, manifest = small_run
    for folder, source, metric in (("platform/sessions", "platform_sessions", "sessions"),
                                   ("platform/cdrs", "platform_cdrs", "cdrs"),
                                   ("eevion/sessions", "eevion_sessions", "sessions")):
        items = page_items(root, folder)
        assert {d: len(v) for d, v in items.items()} == {
            d: m[metric] for d, m in manifest["counts"][source].items()}, folder
    hooks = Counter(p.parent.name for p in (root / "eevion" / "webhooks").rglob("*.json"))
    assert dict(hooks) == {d: m["webhooks"] for d, m in manifest["counts"]["eevion_webhooks"].items()}
    cancelled = sum(1 for v in page_items(root, "platform/sessions").values() for s in v if s["status"] == "failed")
    assert cancelled == sum(m.get("cancelled", 0) for m in manifest["counts"]["platform_sessions"].values())


def test_interval_and_partner_counts(small_run):
    root, manifest = small_run
    charges, intervals = Counter(), Counter()
    for path in (root / "interval_charges").rglob("*.json"):
        body = json.loads(path.read_text())
        charges[path.parent.name] += len(body["charges"])
        intervals[path.parent.name] += sum(len(c["intervals"]) for c in body["charges"])
    counts = manifest["counts"]["interval_charges"]
    assert dict(charges) == {d: m["charges"] for d, m in counts.items()}
    assert dict(intervals) == {d: m["intervals"] for d, m in counts.items()}
    docs = Counter(p.parent.name for p in (root / "partners").rglob("*.json"))
    assert dict(docs) == {d: m["documents"] for d, m in manifest["counts"]["partners"].items()}


def test_session_totals_add_up(small_run):
    _, manifest = small_run
    by_day = manifest["sessions_by_day"]
    assert sum(m["sessions"] for m in by_day.values()) == 3 * 150
    delivered = sum(m["sessions"] - m.get("cancelled", 0) for m in by_day.values())
    assert delivered == manifest["totals"]["sessions"]
    settled = sum(c["sessions"] for d in manifest["settlement"].values() for c in d.values())
    assert settled == delivered
    energy = {}
    for d in manifest["settlement"].values():
        for cur, m in d.items():
            energy[cur] = energy.get(cur, 0) + m["energy_wh"]
    assert energy == manifest["totals"]["energy_wh_by_currency"]
    assert set(energy) == {"GBP", "EUR", "CAD"}
