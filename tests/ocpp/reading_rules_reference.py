"""The scalar reading rules as they were before the columnar version (commit 42bab74,
``assets/ingest/ocpp/reading_rules.py``): the oracle of ``test_reading_rules_frames``, which checks that the
frame rules give the same readings and rejections on generated inputs. Not used by the pipeline.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from assets.ingest.ocpp.readings import ReadingRejection, reading_payload
from assets.ingest.ocpp.reading_rules import (BEGIN_ZERO_SLACK_WH, ENERGY_REGISTER, MAX_PLAUSIBLE_POWER_W,
                                              REGISTER_TOLERANCE_WH, register_order)



def reading_key(reading: dict) -> tuple:
    """The identity of a reading (rule 1)."""
    owner = reading["transaction_id"] or f"connector:{reading['connector_id']}/evse:{reading['evse_id']}"
    return (reading["charge_point_id"], owner, reading["timestamp"], reading["measurand"], reading["phase"],
            reading["location"], reading["context"])


def _add_repair(reading: dict, rule: str) -> None:
    reading["repair"] = rule if not reading["repair"] else f"{reading['repair']};{rule}"


def _has_repair(reading: dict, rule: str) -> bool:
    return bool(reading.get("repair")) and rule in reading["repair"].split(";")


def attribute_to_transactions(candidates: list[dict],
                              intervals: dict[tuple[str, int], list[tuple[datetime, datetime | None, str]]]) -> None:
    """Rule 0, in place: a 1.6 reading without transaction id joins the one transaction running on its connector.

    ``intervals`` comes from ``transactions.transaction_intervals_16`` (start, stop or None, id).
    """
    for reading in candidates:
        if reading["transaction_id"] is not None or reading["protocol"] != "ocpp1.6" or not reading["connector_id"]:
            continue
        moment = reading["timestamp"]
        running = [transaction_id for start, stop, transaction_id
                   in intervals.get((reading["charge_point_id"], reading["connector_id"]), [])
                   if start <= moment and (stop is None or moment <= stop)]
        if len(running) == 1:
            reading["transaction_id"] = running[0]
            _add_repair(reading, "attributed_to_transaction")


def drop_duplicates(candidates: list[dict], history: list[dict]) -> tuple[list[dict], list[ReadingRejection]]:
    """Rules 1 and 2: first received wins; earlier landing dates always count as received first."""
    seen: dict[tuple, float] = {reading_key(r): r["value"] for r in history}
    kept: list[dict] = []
    rejections: list[ReadingRejection] = []
    for reading in sorted(candidates, key=lambda r: (r["received_at"], r["record_ref"])):
        key = reading_key(reading)
        if key in seen:
            same = abs(seen[key] - reading["value"]) <= 1e-9
            code = "DUPLICATE_READING" if same else "CONFLICTING_READING"
            reason = ("the same reading was already received" if same else
                      f"a reading with the same key and value {seen[key]} was received first")
            rejections.append(ReadingRejection(reading["record_ref"], code, reason, reading_payload(reading)))
            continue
        seen[key] = reading["value"]
        kept.append(reading)
    return kept, rejections


def _is_overall_register(reading: dict) -> bool:
    return reading["measurand"] == ENERGY_REGISTER and reading["phase"] is None and reading["transaction_id"]


def _apply_session_relative(new: list[dict], old: list[dict], meter_start: float | None) -> None:
    """Rule 3 for one transaction's overall register readings."""
    if not meter_start or meter_start <= 0 or not new:
        return
    decided_relative = any(_has_repair(r, "session_relative_register") for r in old)
    # A lone Transaction.Begin (possibly the offline dummy 0) says nothing about the register's kind.
    evidence = any(r["context"] != "Transaction.Begin" for r in new)
    newly_relative = not old and evidence and all(r["value"] < meter_start - REGISTER_TOLERANCE_WH for r in new)
    if decided_relative or newly_relative:
        for reading in new:
            reading["value"] = round(reading["value"] + meter_start, 6)
            _add_repair(reading, "session_relative_register")


def _begin_register_zeros(new: list[dict], old: list[dict], meter_start: tuple[float, datetime] | None) -> set[str]:
    """Rule 4: record_refs of Transaction.Begin zeros that no charger could have started from."""
    points = [(r["timestamp"], r["value"]) for r in old + new]
    if meter_start is not None:
        points.append((meter_start[1], meter_start[0]))
    zero_begins = set()
    for reading in new:
        if reading["context"] != "Transaction.Begin" or reading["value"] != 0:
            continue
        for moment, value in points:
            hours = max((moment - reading["timestamp"]).total_seconds(), 0.0) / 3600
            if value > MAX_PLAUSIBLE_POWER_W * hours + BEGIN_ZERO_SLACK_WH:
                zero_begins.add(reading["record_ref"])
                break
    return zero_begins


def _monotonic(new: list[dict], old: list[dict]) -> tuple[set[str], set[str]]:
    """Rule 5: (record_refs rolled back, record_refs that start a new segment) among ``new``."""
    new_refs = {r["record_ref"] for r in new}
    ordered = sorted(old + new, key=register_order)
    rolled_back: set[str] = set()
    resets: set[str] = set()
    segment_max: float | None = None
    for index, reading in enumerate(ordered):
        value = reading["value"]
        if reading["record_ref"] not in new_refs:
            segment_max = value if _has_repair(reading, "register_reset") or segment_max is None \
                else max(segment_max, value)
            continue
        if segment_max is None or value >= segment_max - REGISTER_TOLERANCE_WH:
            segment_max = value if segment_max is None else max(segment_max, value)
            continue
        later = (r for r in ordered[index + 1 :] if r["record_ref"] not in rolled_back)
        if any(r["value"] >= segment_max - REGISTER_TOLERANCE_WH for r in later):
            rolled_back.add(reading["record_ref"])
        else:
            resets.add(reading["record_ref"])
            segment_max = value
    return rolled_back, resets


def apply_register_rules(
    candidates: list[dict],
    history: list[dict],
    meter_starts: dict[str, tuple[float, datetime]],
) -> tuple[list[dict], list[ReadingRejection]]:
    """Rules 3-5 on deduplicated candidates; ``meter_starts`` maps transaction id -> (meterStart Wh, start)."""
    new_by_transaction: dict[str, list[dict]] = defaultdict(list)
    old_by_transaction: dict[str, list[dict]] = defaultdict(list)
    for reading in candidates:
        if _is_overall_register(reading):
            new_by_transaction[reading["transaction_id"]].append(reading)
    for reading in history:
        if _is_overall_register(reading):
            old_by_transaction[reading["transaction_id"]].append(reading)
    rejected: dict[str, ReadingRejection] = {}
    for transaction_id, new in new_by_transaction.items():
        old = old_by_transaction.get(transaction_id, [])
        start = meter_starts.get(transaction_id)
        _apply_session_relative(new, old, start[0] if start else None)
        for ref in _begin_register_zeros(new, old, start):
            reading = next(r for r in new if r["record_ref"] == ref)
            rejected[ref] = ReadingRejection(
                ref, "BEGIN_REGISTER_ZERO",
                "Transaction.Begin register of 0 while the transaction's register is far higher (dummy 0 sent while offline)",
                reading_payload(reading))
        remaining = [r for r in new if r["record_ref"] not in rejected]
        rolled_back, resets = _monotonic(remaining, old)
        for reading in remaining:
            if reading["record_ref"] in rolled_back:
                rejected[reading["record_ref"]] = ReadingRejection(
                    reading["record_ref"], "REGISTER_ROLLBACK",
                    "register went below its running maximum and later returned to it (meter glitch)",
                    reading_payload(reading))
            elif reading["record_ref"] in resets:
                _add_repair(reading, "register_reset")
    accepted = [r for r in candidates if r["record_ref"] not in rejected]
    return accepted, list(rejected.values())
