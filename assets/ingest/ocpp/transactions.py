"""Transactions assembled from OCPP frames and accepted meter readings.

**Scan rule.** A transaction's frames can land on several days. Partition ``D`` of ``transactions``
holds, for every transaction that received at least one frame landed on ``D``, its state assembled from
*all* frames and readings landed on ``D`` or earlier: every frame naming the transaction id (the
``transaction_id`` column of ``ocpp_messages``), the 1.6 StartTransaction request answered with it (even
from the day before), and the StartTransaction / StatusNotification frames of its charge point from the
first landing date of those frames on. The current state of a transaction is therefore its row in the
greatest ``landing_date``; an ``open`` row is superseded by the later ``complete`` one. Re-running ``D``
gives the same row as long as the earlier dates are unchanged.

**Two paths, one set of rules.** ``assemble_transactions`` applies the rules to frame and reading dicts and
takes any input; ``transaction_columns.assemble`` computes the same facts column-wise for the charge points
whose frames are all of the common shape and hands the rest to ``assemble_transactions``. Both summarise a
transaction's readings into a ``RegisterSummary`` and end in ``finish_transaction`` (meter start/stop, energy,
the rejections after assembly), so those rules exist once.

**Rules** (names go to the ``repairs`` column; codes go to quarantine):

| rule / reason code                | condition                                                          | outcome |
|-----------------------------------|--------------------------------------------------------------------|---------|
| ``replayed_start_merged``         | 1.6: two StartTransactions with the same charge point, connector, start time and meterStart under different ids (ABB Terra re-sending after reconnect) | later ids become aliases of the first; their frames are merged |
| ``first_frame_wins``              | a 1.6 StopTransaction or 2.0.1 TransactionEvent (same seqNo) re-sent | the first received is used |
| ``begin_register_zero``          | meterStart (1.6) is 0 but the first register reading is more than ``MAX_PLAUSIBLE_POWER_W`` could deliver since the start | meter_start := first register reading |
| ``meter_start_extrapolated``      | 2.0.1 without an accepted Transaction.Begin register (e.g. a zero sent while offline), or a 1.6 meterStart of 0, and at least two register readings after the start | meter_start := the first reading less the energy the first two readings' rate would have delivered between the start and the first reading (whole Wh, never below 0) |
| ``meter_start_from_first_reading``| the same with fewer than two readings to take a rate from          | meter_start := earliest register reading |
| ``meter_stop_from_last_reading``  | 2.0.1 Ended without a Transaction.End register                     | meter_stop := latest register reading |
| ``start_from_first_reading``      | 2.0.1 events without a ``Started`` event (lost) but with register readings | start := earliest reading time |
| ``session_relative_register``     | its readings were lifted by rule 3 of ``reading_rules``            | noted (energy from the lifted series) |
| ``timestamp_from_received_at``    | start/stop time unusable (see ``clock``)                           | the frame's receive time |
| clock rules of ``clock``          | 1970 / local-as-UTC start or stop times                            | repaired as for readings |
| ``register_reset`` segments       | readings flagged ``register_reset``                                | energy = sum of the segments' increases |
| ``START_WITHOUT_TRANSACTION_ID``  | 1.6 StartTransaction whose answer (with the id) is missing or an error on its landing date | quarantined there (an answer landing the next day still assembles the transaction then) |
| ``MISSING_START_TRANSACTION``     | 1.6 stop or readings for an id no StartTransaction answer issued   | quarantined |
| ``MISSING_STARTED_EVENT``         | 2.0.1 events without a ``Started`` event and without any register reading to start from | quarantined |
| ``INVALID_METER_START`` / ``INVALID_METER_STOP`` | 1.6 meterStart / meterStop that is not a number     | quarantined |
| ``NEGATIVE_ENERGY``               | meter_stop below meter_start after all repairs                     | quarantined |
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from assets.ingest.ocpp.clock import TimeRejection, repair_timestamp
from assets.ingest.ocpp.reading_rules import (
    ENERGY_REGISTER,
    MAX_PLAUSIBLE_POWER_W,
    BEGIN_ZERO_SLACK_WH,
    register_order,
)
from assets.ingest.ocpp.fields import as_int, as_number, as_object, as_text, hashable, raw_text
from assets.ingest.ocpp.frames import namespaced_transaction_id

CHARGING_STATES_16 = {"Charging", "SuspendedEV", "SuspendedEVSE"}
DEFAULT_STOP_REASON = "Local"


@dataclass(frozen=True)
class TransactionRejection:
    """A transaction that cannot be assembled."""

    record_ref: str
    reason_code: str
    reason: str
    raw_payload: str


@dataclass
class _Draft:
    transaction_id: str
    charge_point_id: str
    protocol: str
    connector_id: int | None = None
    evse_id: int | None = None
    id_tag: str | None = None
    start: datetime | None = None
    start_raw: str | None = None
    stop: datetime | None = None
    stop_raw: str | None = None
    meter_start: float | None = None
    meter_stop: float | None = None
    stop_reason: str | None = None
    status: str = "open"
    seq_no_gaps: int = 0
    offline_events: int = 0
    record_ref: str = ""
    time_spent_charging: int | None = None

    def __post_init__(self):
        self.repairs: list[str] = []
        self.aliases: list[str] = []
        self.states: list[tuple[datetime, str]] = []

    def repair(self, rule: str) -> None:
        """Record a transaction-level repair rule once."""
        if rule not in self.repairs:
            self.repairs.append(rule)


def _payload(message: dict) -> dict:
    # Parsed once per message dict: the assembly looks at the same payloads several times.
    parsed = message.get("_payload")
    if parsed is None:
        parsed = message["_payload"] = json.loads(message["payload_json"])
    return parsed


def _by_arrival(messages: list[dict]) -> list[dict]:
    return sorted(messages, key=lambda m: (m["received_at"], m["record_ref"]))


def _timestamp(draft: _Draft, raw: object, received_at: datetime) -> datetime:
    result = repair_timestamp(raw, received_at)
    if isinstance(result, TimeRejection):
        draft.repair("timestamp_from_received_at")
        return received_at
    if result.repair:
        for rule in result.repair.split(";"):
            draft.repair(rule)
    return result.timestamp


def starts_16(messages: list[dict]) -> tuple[dict[str, tuple[dict, dict]], list[dict]]:
    """1.6 transaction id -> (StartTransaction request, its answer); and requests without an id."""
    requests = {(m["charge_point_id"], m["message_id"]): m for m in _by_arrival(messages)
                if m["message_type"] == "CALL" and m["action"] == "StartTransaction" and m["direction"] == "in"}
    answered = set()
    starts: dict[str, tuple[dict, dict]] = {}
    for answer in _by_arrival(messages):
        if answer["action"] != "StartTransaction" or answer["direction"] != "out":
            continue
        request = requests.get((answer["charge_point_id"], answer["message_id"]))
        if request is None or answer["message_type"] != "CALLRESULT":
            continue
        transaction_id = namespaced_transaction_id(answer["charge_point_id"], _payload(answer).get("transactionId"))
        if transaction_id is None:
            continue
        answered.add((answer["charge_point_id"], answer["message_id"]))
        starts.setdefault(transaction_id, (request, answer))
    unanswered = [request for key, request in requests.items() if key not in answered]
    return starts, unanswered


def transaction_places(messages: list[dict]) -> dict[str, tuple[int | None, int | None]]:
    """Transaction id -> (connector id, EVSE id): the 1.6 start's connector, the first 2.0.1 event's ``evse``.

    Later frames (1.6 StopTransaction data, 2.0.1 Updated events) need not repeat where the car is.
    """
    places: dict[str, tuple[int | None, int | None]] = {}
    for transaction_id, (request, _answer) in starts_16([m for m in messages if m["protocol"] == "ocpp1.6"])[0].items():
        places[transaction_id] = (as_int(_payload(request).get("connectorId")), None)
    for message in _by_arrival(messages):
        if message["action"] != "TransactionEvent" or message["message_type"] != "CALL":
            continue
        payload = _payload(message)
        info, evse = payload.get("transactionInfo"), payload.get("evse")
        if not isinstance(info, dict) or not isinstance(evse, dict):
            continue
        transaction_id = namespaced_transaction_id(message["charge_point_id"], info.get("transactionId"))
        if transaction_id not in places:
            places[transaction_id] = (as_int(evse.get("connectorId")), as_int(evse.get("id")))
    return places


def transaction_intervals_16(messages: list[dict]) -> dict[tuple[str, int], list[tuple[datetime, datetime | None, str]]]:
    """(charge point, connector) -> [(start, stop or None while open, transaction id)] of 1.6 transactions.

    From StartTransaction requests with their answers and StopTransaction requests among ``messages``;
    ids merged by ``replayed_start_merged`` count once, under the first id.
    """
    starts, _ = starts_16([m for m in messages if m["protocol"] == "ocpp1.6"])
    aliases = alias_map(starts)
    stops: dict[str, datetime] = {}
    for message in _by_arrival(messages):
        if message["action"] != "StopTransaction" or message["message_type"] != "CALL":
            continue
        payload = _payload(message)
        transaction_id = namespaced_transaction_id(message["charge_point_id"], payload.get("transactionId"))
        repaired = repair_timestamp(payload.get("timestamp"), message["received_at"])
        moment = message["received_at"] if isinstance(repaired, TimeRejection) else repaired.timestamp
        stops.setdefault(aliases.get(transaction_id, transaction_id), moment)
    intervals: dict[tuple[str, int], list[tuple[datetime, datetime | None, str]]] = defaultdict(list)
    for transaction_id, (request, _answer) in starts.items():
        if transaction_id in aliases:
            continue
        payload = _payload(request)
        connector = as_int(payload.get("connectorId"))
        if connector is None:
            continue
        repaired = repair_timestamp(payload.get("timestamp"), request["received_at"])
        start = request["received_at"] if isinstance(repaired, TimeRejection) else repaired.timestamp
        intervals[(request["charge_point_id"], connector)].append((start, stops.get(transaction_id), transaction_id))
    return intervals


def meter_starts_16(messages: list[dict]) -> dict[str, tuple[float, datetime]]:
    """1.6 transaction id -> (meterStart Wh, start time as sent or received) for the reading rules."""
    result = {}
    for transaction_id, (request, _answer) in starts_16(messages)[0].items():
        payload = _payload(request)
        meter_start = payload.get("meterStart")
        if isinstance(meter_start, (int, float)) and not isinstance(meter_start, bool):
            repaired = repair_timestamp(payload.get("timestamp"), request["received_at"])
            moment = request["received_at"] if isinstance(repaired, TimeRejection) else repaired.timestamp
            result[transaction_id] = (float(meter_start), moment)
    return result


def alias_map(starts: dict[str, tuple[dict, dict]]) -> dict[str, str]:
    """Replayed starts under different ids -> the id of the first (``replayed_start_merged``).

    ``starts`` is the first result of ``starts_16``.
    """
    canonical: dict[tuple, str] = {}
    aliases: dict[str, str] = {}
    ordered = sorted(starts.items(), key=lambda item: (item[1][0]["received_at"], item[1][0]["record_ref"]))
    for transaction_id, (request, _answer) in ordered:
        payload = _payload(request)
        key = (request["charge_point_id"], hashable(payload.get("connectorId")), hashable(payload.get("timestamp")),
               hashable(payload.get("meterStart")))
        if key in canonical and canonical[key] != transaction_id:
            aliases[transaction_id] = canonical[key]
        else:
            canonical.setdefault(key, transaction_id)
    return aliases


def _register_series(readings: list[dict]) -> list[dict]:
    series = [r for r in readings if r["measurand"] == ENERGY_REGISTER and r["phase"] is None]
    return sorted(series, key=register_order)


def _has_rule(reading: dict, rule: str) -> bool:
    return bool(reading["repair"]) and rule in reading["repair"].split(";")


@dataclass(frozen=True)
class RegisterSummary:
    """What the assembly needs from a transaction's accepted readings (never the readings themselves).

    The register series is the overall (phase-less) ``ENERGY_REGISTER`` readings in ``register_order``.
    ``reset_previous``: for each reading of the series flagged ``register_reset``, in order, the value of the
    reading before it (None when it is the first). Built from reading dicts by ``summarize_readings`` and,
    column-wise, by ``transaction_columns.register_summaries``.
    """

    reading_count: int = 0
    has_series: bool = False
    first_timestamp: datetime | None = None
    first_value: float | None = None
    second_timestamp: datetime | None = None  # the first reading later than the first one
    second_value: float | None = None
    last_value: float | None = None
    begin_value: float | None = None  # the first Transaction.Begin register
    end_value: float | None = None  # the last Transaction.End register
    reset_previous: tuple[float | None, ...] = ()
    session_relative: bool = False


def summarize_readings(readings: list[dict], reading_count: int | None = None) -> RegisterSummary:
    """``RegisterSummary`` of one transaction's reading dicts (``reading_count``: how many readings it has
    when ``readings`` is only its register series; None: all of them are given)."""
    series = _register_series(readings)
    reading_count = len(readings) if reading_count is None else reading_count
    if not series:
        return RegisterSummary(reading_count=reading_count)
    first = series[0]
    second = next((r for r in series[1:] if r["timestamp"] > first["timestamp"]), None)
    begin = [r for r in series if r["context"] == "Transaction.Begin"]
    end = [r for r in series if r["context"] == "Transaction.End"]
    return RegisterSummary(
        reading_count=reading_count, has_series=True,
        first_timestamp=first["timestamp"], first_value=first["value"],
        second_timestamp=second["timestamp"] if second else None, second_value=second["value"] if second else None,
        last_value=series[-1]["value"],
        begin_value=begin[0]["value"] if begin else None, end_value=end[-1]["value"] if end else None,
        reset_previous=tuple(series[i - 1]["value"] if i else None
                             for i, r in enumerate(series) if _has_rule(r, "register_reset")),
        session_relative=any(_has_rule(r, "session_relative_register") for r in series),
    )


def _energy(meter_start: float, summary: RegisterSummary, meter_stop: float | None) -> float:
    """Energy as the sum of each register segment's increase (segments split at ``register_reset``)."""
    total = 0.0
    segment_start = meter_start
    for previous in summary.reset_previous:
        total += (meter_start if previous is None else previous) - segment_start
        segment_start = 0.0
    last = summary.last_value if summary.has_series else meter_start
    end = meter_stop if meter_stop is not None else last
    return round(total + end - segment_start, 6)


def _assemble_16(draft: _Draft, request: dict, stop: dict | None, statuses: list[dict]) -> None:
    payload = _payload(request)
    draft.connector_id = as_int(payload.get("connectorId"))
    draft.id_tag = as_text(payload.get("idTag"))
    draft.start_raw = raw_text(payload.get("timestamp"))
    draft.start = _timestamp(draft, payload.get("timestamp"), request["received_at"])
    draft.meter_start = as_number(payload.get("meterStart"))
    draft.record_ref = request["record_ref"]
    if stop is not None:
        stop_payload = _payload(stop)
        draft.stop_raw = raw_text(stop_payload.get("timestamp"))
        draft.stop = _timestamp(draft, stop_payload.get("timestamp"), stop["received_at"])
        draft.meter_stop = as_number(stop_payload.get("meterStop"))
        draft.stop_reason = as_text(stop_payload.get("reason")) or DEFAULT_STOP_REASON
        draft.status = "complete"
    timeline = []
    for status in statuses:
        status_payload = _payload(status)
        if status_payload.get("connectorId") != draft.connector_id:
            continue
        moment_raw = status_payload.get("timestamp")
        result = repair_timestamp(moment_raw, status["received_at"]) if moment_raw else None
        moment = status["received_at"] if result is None or isinstance(result, TimeRejection) else result.timestamp
        timeline.append((moment, as_text(status_payload.get("status"))))
    timeline.sort(key=lambda item: item[0])
    # A charger may report Charging a moment before the StartTransaction time: the last state at or
    # before the start is the state the transaction starts in.
    before = [item for item in timeline if item[0] <= draft.start]
    if before and before[-1][1] in CHARGING_STATES_16:
        draft.states.append((draft.start, before[-1][1]))
    for moment, state in timeline:
        if moment <= draft.start or (draft.stop is not None and moment > draft.stop):
            continue
        if state in CHARGING_STATES_16 and (not draft.states or draft.states[-1][1] != state):
            draft.states.append((moment, state))


def _assemble_201(draft: _Draft, events: list[dict]) -> None:
    by_seq: dict[str, dict] = {}
    for event in _by_arrival(events):
        seq_no = hashable(_payload(event).get("seqNo"))
        if seq_no in by_seq:
            draft.repair("first_frame_wins")
            continue
        by_seq[seq_no] = event

    def sequence(event: dict) -> tuple:
        """Order by seqNo; events without a usable seqNo go after the numbered ones, in arrival order."""
        number = as_int(_payload(event).get("seqNo"))
        return (number is None, number or 0, event["received_at"], event["record_ref"])

    ordered = sorted(by_seq.values(), key=sequence)
    seq_numbers = [n for n in (as_int(_payload(e).get("seqNo")) for e in ordered) if n is not None]
    if seq_numbers:
        draft.seq_no_gaps = max(seq_numbers) - min(seq_numbers) + 1 - len(seq_numbers)
    for event in ordered:
        payload = _payload(event)
        info = as_object(payload.get("transactionInfo"))
        moment = _timestamp(draft, payload.get("timestamp"), event["received_at"])
        if payload.get("offline"):
            draft.offline_events += 1
        evse = payload.get("evse") if isinstance(payload.get("evse"), dict) else {}
        draft.evse_id = draft.evse_id if draft.evse_id is not None else as_int(evse.get("id"))
        draft.connector_id = draft.connector_id if draft.connector_id is not None else as_int(evse.get("connectorId"))
        draft.id_tag = draft.id_tag or as_text(as_object(payload.get("idToken")).get("idToken"))
        if payload.get("eventType") == "Started" and draft.start is None:
            draft.start, draft.start_raw = moment, raw_text(payload.get("timestamp"))
            draft.record_ref = event["record_ref"]
        if payload.get("eventType") == "Ended" and draft.stop is None:
            draft.stop, draft.stop_raw = moment, raw_text(payload.get("timestamp"))
            draft.stop_reason = as_text(info.get("stoppedReason")) or DEFAULT_STOP_REASON
            draft.status = "complete"
        spent = info.get("timeSpentCharging")
        if isinstance(spent, int) and not isinstance(spent, bool):
            # Cumulative; the highest value seen is the latest (events can arrive out of order).
            draft.time_spent_charging = max(spent, draft.time_spent_charging or 0)
        state = as_text(info.get("chargingState"))
        if state and (not draft.states or draft.states[-1][1] != state):
            draft.states.append((moment, state))
    if not draft.record_ref and ordered:
        draft.record_ref = ordered[0]["record_ref"]


def _charging_seconds(states: list[tuple[datetime, str]], stop: datetime | None,
                      reported: int | None = None) -> int | None:
    """Seconds spent charging: the station's own 2.0.1 ``timeSpentCharging`` when it sent one, else the
    time in the ``Charging`` state up to the stop; None while open or without any state information."""
    if stop is None:
        return None
    if reported is not None:
        return reported
    if not states:
        return None
    total = 0.0
    for index, (moment, state) in enumerate(states):
        until = states[index + 1][0] if index + 1 < len(states) else stop
        if state == "Charging":
            total += max((until - moment).total_seconds(), 0.0)
    return int(round(total))


def _finish_energy(draft: _Draft, summary: RegisterSummary) -> tuple[str, str] | None:
    """Fill meter start/stop from the register series; returns (reason code, reason) to reject, or None."""
    if draft.protocol == "ocpp1.6":
        if draft.meter_start is None:
            return "INVALID_METER_START", "StartTransaction meterStart is not a number"
        if draft.status == "complete" and draft.meter_stop is None:
            return "INVALID_METER_STOP", "StopTransaction meterStop is not a number"
    if draft.protocol == "ocpp2.0.1":
        if summary.begin_value is not None:
            draft.meter_start = summary.begin_value
        elif summary.has_series:
            _start_from_readings(draft, summary)
        if draft.status == "complete":
            if summary.end_value is not None:
                draft.meter_stop = summary.end_value
            elif summary.has_series:
                draft.meter_stop = summary.last_value
                draft.repair("meter_stop_from_last_reading")
        if draft.start is None:
            if not summary.has_series:
                return "MISSING_STARTED_EVENT", "transaction events without a Started event or any register reading"
            draft.start = summary.first_timestamp
            draft.repair("start_from_first_reading")
    elif draft.meter_start == 0 and summary.has_series and draft.start is not None:
        hours = max((summary.first_timestamp - draft.start).total_seconds(), 0.0) / 3600
        if summary.first_value > MAX_PLAUSIBLE_POWER_W * hours + BEGIN_ZERO_SLACK_WH:
            draft.repair("begin_register_zero")
            _start_from_readings(draft, summary, fallback_repair=None)
    if summary.reset_previous:
        draft.repair("register_reset")
    if summary.session_relative:
        draft.repair("session_relative_register")
    return None


def _start_from_readings(draft, summary: RegisterSummary,
                         fallback_repair: str | None = "meter_start_from_first_reading") -> None:
    """meter_start when the charger gave none: extrapolate the first two readings back to the start, so the
    energy of the first sampling interval is not lost (a DC charger delivers kWh in a minute)."""
    first_timestamp, first_value = summary.first_timestamp, summary.first_value
    if summary.second_timestamp is None or draft.start is None or first_timestamp <= draft.start:
        draft.meter_start = first_value
        if fallback_repair:
            draft.repair(fallback_repair)
        return
    rate = (summary.second_value - first_value) / (summary.second_timestamp - first_timestamp).total_seconds()
    lead = (first_timestamp - draft.start).total_seconds()
    draft.meter_start = float(max(0, min(first_value, round(first_value - max(rate, 0.0) * lead))))
    draft.repair("meter_start_extrapolated")


def missing_start(transaction_id: str, stop_ref: str | None, stop_payload: str | None) -> TransactionRejection:
    """``MISSING_START_TRANSACTION`` for a touched id that no start issued (with its StopTransaction, if any)."""
    return TransactionRejection(stop_ref or transaction_id, "MISSING_START_TRANSACTION",
                                f"no StartTransaction answer issued {transaction_id}",
                                stop_payload if stop_ref else transaction_id)


def start_without_id(record_ref: str, payload_json: str) -> TransactionRejection:
    """``START_WITHOUT_TRANSACTION_ID`` for a StartTransaction request of the partition that no answer gave an id."""
    return TransactionRejection(record_ref, "START_WITHOUT_TRANSACTION_ID",
                                "StartTransaction has no answer issuing a transaction id", payload_json)


def finish_transaction(draft: _Draft, summary: RegisterSummary, aliases: list[str],
                       replayed_stop: bool) -> dict | TransactionRejection:
    """The row of a transaction whose frames are in ``draft`` (or its rejection): the merge and
    first-frame repairs, meter start/stop and energy from the register ``summary``, durations."""
    transaction_id = draft.transaction_id
    draft.aliases = aliases
    if draft.aliases:
        draft.repair("replayed_start_merged")
    if replayed_stop:
        draft.repair("first_frame_wins")
    problem = _finish_energy(draft, summary)
    if problem:
        return TransactionRejection(draft.record_ref or transaction_id, *problem, transaction_id)
    energy = _energy(draft.meter_start, summary, draft.meter_stop) if draft.meter_start is not None else None
    if energy is not None and energy < 0:
        return TransactionRejection(draft.record_ref, "NEGATIVE_ENERGY",
                                    f"meter stop {draft.meter_stop} is below meter start {draft.meter_start}",
                                    transaction_id)
    return {
        "transaction_id": transaction_id,
        "charge_point_id": draft.charge_point_id,
        "protocol": draft.protocol,
        "connector_id": draft.connector_id,
        "evse_id": draft.evse_id,
        "id_tag": draft.id_tag,
        "start_timestamp": draft.start,
        "start_timestamp_raw": draft.start_raw,
        "stop_timestamp": draft.stop,
        "stop_timestamp_raw": draft.stop_raw,
        "meter_start_wh": draft.meter_start,
        "meter_stop_wh": draft.meter_stop,
        "energy_wh": energy,
        "stop_reason": draft.stop_reason,
        "status": draft.status,
        "duration_s": int((draft.stop - draft.start).total_seconds()) if draft.stop and draft.start else None,
        "charging_duration_s": _charging_seconds(draft.states, draft.stop, draft.time_spent_charging),
        "charging_states": [{"timestamp": moment, "state": state} for moment, state in draft.states],
        "reading_count": summary.reading_count,
        "seq_no_gaps": draft.seq_no_gaps,
        "offline_events": draft.offline_events,
        "repairs": ";".join(draft.repairs) or None,
        "alias_transaction_ids": ";".join(draft.aliases) or None,
    }


def assemble_transactions(
    messages: list[dict],
    readings: list[dict],
    touched: set[str],
    unanswered_refs: set[str] | None = None,
    reading_counts: dict[str, int] | None = None,
) -> tuple[list[dict], list[TransactionRejection]]:
    """Rows of ``transactions`` for the ``touched`` ids, from all their frames and accepted readings.

    ``messages`` are the ocpp_messages of the touched charge points up to the partition's date;
    ``unanswered_refs`` are record_refs of 1.6 StartTransaction requests landed in this partition, whose
    missing answers are reported as ``START_WITHOUT_TRANSACTION_ID``. ``reading_counts``: accepted readings
    per transaction id when ``readings`` holds only the register series (the rest is only counted); None when
    ``readings`` are all of them.
    """
    starts, unanswered = starts_16([m for m in messages if m["protocol"] == "ocpp1.6"])
    aliases = alias_map(starts)
    stops: dict[str, dict] = {}
    replayed_stops: set[str] = set()
    events: dict[str, list[dict]] = defaultdict(list)
    statuses: dict[str, list[dict]] = defaultdict(list)
    for message in _by_arrival(messages):
        if message["message_type"] != "CALL" or message["direction"] != "in":
            continue
        payload = _payload(message)
        if message["action"] == "StopTransaction":
            tx = namespaced_transaction_id(message["charge_point_id"], payload.get("transactionId"))
            tx = aliases.get(tx, tx)
            if tx in stops:
                replayed_stops.add(tx)
                continue
            stops[tx] = message
        elif message["action"] == "TransactionEvent":
            info = payload.get("transactionInfo") if isinstance(payload.get("transactionInfo"), dict) else {}
            events[namespaced_transaction_id(message["charge_point_id"], info.get("transactionId"))].append(message)
        elif message["action"] == "StatusNotification" and message["protocol"] == "ocpp1.6":
            statuses[message["charge_point_id"]].append(message)
    readings_by_tx: dict[str, list[dict]] = defaultdict(list)
    for reading in readings:
        tx = aliases.get(reading["transaction_id"], reading["transaction_id"])
        readings_by_tx[tx].append(reading)
    counts_by_tx: dict[str, int] | None = None
    if reading_counts is not None:
        counts_by_tx = defaultdict(int)
        for tx, count in reading_counts.items():
            counts_by_tx[aliases.get(tx, tx)] += count

    rows: list[dict] = []
    rejections: list[TransactionRejection] = []
    for request in unanswered:
        if unanswered_refs and request["record_ref"] in unanswered_refs:
            rejections.append(start_without_id(request["record_ref"], request["payload_json"]))
    canonical_touched = sorted({aliases.get(tx, tx) for tx in touched})
    for transaction_id in canonical_touched:
        if transaction_id in events:
            charge_point_id = events[transaction_id][0]["charge_point_id"]
            draft = _Draft(transaction_id, charge_point_id, "ocpp2.0.1")
            _assemble_201(draft, events[transaction_id])
        elif transaction_id in starts:
            request, _answer = starts[transaction_id]
            charge_point_id = request["charge_point_id"]
            draft = _Draft(transaction_id, charge_point_id, "ocpp1.6")
            _assemble_16(draft, request, stops.get(transaction_id), statuses.get(charge_point_id, []))
        else:
            reference = stops.get(transaction_id)
            rejections.append(missing_start(transaction_id, reference["record_ref"] if reference else None,
                                            reference["payload_json"] if reference else None))
            continue
        outcome = finish_transaction(
            draft, summarize_readings(readings_by_tx.get(transaction_id, []),
                                      None if counts_by_tx is None else counts_by_tx.get(transaction_id, 0)),
            sorted(alias for alias, target in aliases.items() if target == transaction_id),
            transaction_id in replayed_stops)
        (rejections if isinstance(outcome, TransactionRejection) else rows).append(outcome)
    return rows, rejections
