"""OCPP-J frame logs (1.6J and 2.0.1) as our central system records them, both directions, hourly files.

Line format (resources/README.md §2): `{"received_at", "charge_point_id", "protocol", "direction", "message_id",
"raw"}` where `raw` is the frame text exactly as on the wire. Calls from the station are `in`; the central
system's CallResults are `out`. Payload timestamps come from the station's clock (so clock faults live there);
`received_at` is the server's receive time.

Sampling: MeterValues every `meter_interval` seconds while energy flows; during the idle tail (SuspendedEV) the
stations sample every 15 minutes, as idle sampling is commonly reduced (and it keeps logs proportionate).
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np

from data.context import Fault, RunContext
from data.fleet import OPERATORS
from data.identity import ocpp16_transaction_id, ocpp201_transaction_id, rfid_uid
from data.sessions import SessionChunk, energy_wh_at, power_at
from data.timeutil import iso_ms, iso_s, iso_us, local_wall_as_utc

REGISTER = "Energy.Active.Import.Register"
IDLE_SAMPLE_S = 900
_VOLTS_AC = 230.0
_VOLTS_DC = 400.0


class _Frames:
    """Collects one session's logical calls, then serialises them to envelope lines."""

    def __init__(self, ctx: RunContext, cp: str, protocol: str, writer: str, prefix: str) -> None:
        self.ctx = ctx
        self.cp = cp
        self.protocol = protocol
        self.writer = writer
        self.prefix = prefix
        self.calls: list[list] = []  # [t_s_true, action, payload, result, delay_s, malformed]

    def call(self, t: float, action: str, payload: dict, result: dict) -> int:
        self.calls.append([t, action, payload, result, 0.0, False])
        return len(self.calls) - 1

    def write(self, start: int, latency_us: np.ndarray, duplicate: int | None = None,
              duplicate_delay_us: int = 0) -> list[tuple[str, str]]:
        """Queue all frames; returns (message_id, file) per call in order (for fault refs)."""
        refs: list[tuple[str, str]] = []
        for n, (t, action, payload, result, delay, malformed) in enumerate(self.calls):
            mid = f"{self.prefix}-{n:04d}"
            recv = int((start + t + delay) * 1_000_000) + int(latency_us[n])
            raw_call = json.dumps([2, mid, action, payload], separators=(",", ":"))
            rel = self._emit(recv, "in", mid, raw_call, malformed)
            refs.append((mid, rel))
            self._emit(recv + 4_000 + int(latency_us[n]) // 20, "out", mid,
                       json.dumps([3, mid, result], separators=(",", ":")), False)
            if n == duplicate:
                self._emit(recv + duplicate_delay_us, "in", mid, raw_call, False)
        return refs

    def _emit(self, recv_us: int, direction: str, mid: str, raw: str, malformed: bool) -> str:
        stamp = iso_us(recv_us)
        day = stamp[:10]
        rel = f"ocpp/{day}/{stamp[11:13]}/{self.writer}.jsonl"
        line = (f'{{"received_at":"{stamp}","charge_point_id":"{self.cp}","protocol":"{self.protocol}",'
                f'"direction":"{direction}","message_id":"{mid}","raw":{json.dumps(raw)}}}')
        if malformed:
            # A truncated write: the line is cut mid-way, as after a crash of the logging process.
            line = line[: max(20, len(line) * 3 // 5)]
        self.ctx.landing.append_sorted(rel, f"{recv_us:017d}{direction}{mid}", line)
        self.ctx.tally.count("ocpp", day, "frames")
        return rel


def _sample_offsets(chunk: SessionChunk, i: int, interval: int) -> np.ndarray:
    """Offsets (s) of periodic samples: every `interval` while charging, every 15 min when idle."""
    plug = int(chunk.plug_s[i])
    charge = int(chunk.charge_s[i])
    if charge <= 0:
        return np.empty(0, dtype=np.int64)
    t = np.arange(interval, plug, interval, dtype=np.int64)
    idle_every = max(1, IDLE_SAMPLE_S // interval)
    keep = (t <= charge) | ((t // interval) % idle_every == 0)
    return t[keep]


def _clock(ctx: RunContext, fault: Fault, zone: str, start: int, ms: bool):
    """Station clock formatter for payload timestamps, with the clock faults applied."""
    if fault == ("local_time_as_utc", "ocpp"):
        return lambda t: local_wall_as_utc(start + int(t), zone)
    skew = 0
    if fault == ("clock_skew", "ocpp"):
        skew = int(ctx.rng.integers(120, 1_200)) * (1 if ctx.rng.random() < 0.5 else -1)
    if ms:
        return lambda t: iso_ms((start + skew) * 1000 + int(round(t * 1000)))
    return lambda t: iso_s(start + skew + int(t))


def boot_station(ctx: RunContext, evse: int, at: int) -> None:
    """BootNotification and per-connector StatusNotification Available when a station connects."""
    fleet = ctx.fleet
    protocol = fleet.ocpp_protocol(evse)
    op = OPERATORS[int(fleet.evse_operator[evse])]
    cp = fleet.charge_point_id(evse)
    frames = _Frames(ctx, cp, protocol, op.writer, f"boot-{int(fleet.evse_station[evse]):06d}")
    accepted = {"status": "Accepted", "currentTime": iso_s(at), "interval": 300}
    if protocol == "ocpp1.6":
        frames.call(0, "BootNotification", {"chargePointVendor": "Voltline", "chargePointModel": "VL-AC22",
                                            "firmwareVersion": "4.2.1"}, accepted)
        frames.call(1, "StatusNotification", {"connectorId": int(fleet.evse_k[evse]), "errorCode": "NoError",
                                              "status": "Available", "timestamp": iso_s(at + 1)}, {})
    else:
        frames.call(0, "BootNotification", {"chargingStation": {"model": "VL-HPC", "vendorName": "Voltline",
                                                                "firmwareVersion": "2.0.7"},
                                            "reason": "PowerUp"}, accepted)
        frames.call(1, "StatusNotification", {"timestamp": iso_ms((at + 1) * 1000), "connectorStatus": "Available",
                                              "evseId": int(fleet.evse_k[evse]), "connectorId": 1}, {})
    frames.write(at, np.full(len(frames.calls), 150_000))


def _register_fn(ctx: RunContext, chunk: SessionChunk, i: int, fault: Fault, offsets: np.ndarray):
    """Register values (Wh) at offsets after applying reset/rollback faults; returns (values, meter_stop, info)."""
    r0 = int(chunk.register0[i])
    values = r0 + energy_wh_at(chunk, i, offsets)
    stop = r0 + int(chunk.energy_wh[i])
    info: dict = {}
    charging = np.flatnonzero(offsets < int(chunk.charge_s[i]))
    if fault == ("register_reset", "ocpp") and charging.size >= 3:
        j = int(charging[int(ctx.rng.integers(1, charging.size - 1))])
        base = int(values[j - 1])
        # After a meter reset the register restarts near zero: the energy before the reset is still real.
        values[j:] -= base
        stop -= base
        info = {"reset_at_sample": j, "register_before_reset": base}
    elif fault == ("register_rollback", "ocpp") and charging.size >= 3:
        j = int(charging[int(ctx.rng.integers(1, charging.size - 1))])
        # Drop below the previous reading, so the glitch is a real decrease and not just a slower rise.
        drop = int(values[j] - values[j - 1]) + int(ctx.rng.integers(50, 3_000))
        values[j] -= drop
        info = {"rollback_at_sample": j, "drop_wh": drop}
    return values, stop, info


def emit_session(ctx: RunContext, chunk: SessionChunk, i: int, fault: Fault) -> None:
    """Write every frame of session `i` if its station talks to our central system."""
    fleet = ctx.fleet
    evse = int(chunk.evse[i])
    protocol = fleet.ocpp_protocol(evse)
    if protocol is None:
        return
    op_index = int(chunk.op[i])
    op = OPERATORS[op_index]
    sid = int(chunk.sid[i])
    start = int(chunk.start[i])
    cp = fleet.charge_point_id(evse)
    frames = _Frames(ctx, cp, protocol, op.writer, f"{sid:09d}")
    ts = _clock(ctx, fault, op.time_zone, start, ms=protocol == "ocpp2.0.1")
    interval = ctx.cfg.meter_interval
    offsets = _sample_offsets(chunk, i, interval)
    values, meter_stop, info = _register_fn(ctx, chunk, i, fault, offsets)
    powers = power_at(chunk, i, offsets)
    phases = fleet.phases(evse)
    uid = rfid_uid(int(chunk.customer[i]), int(chunk.emsp[i]))
    if protocol == "ocpp1.6":
        tx_ref, periodic = _build_16(ctx, chunk, i, fault, frames, ts, offsets, values, meter_stop, powers,
                                     phases, uid)
    else:
        tx_ref, periodic = _build_201(ctx, chunk, i, fault, frames, ts, offsets, values, meter_stop, powers, uid)

    duplicate = None
    dup_delay = 0
    if fault == ("duplicate_frame", "ocpp"):
        duplicate = int(ctx.rng.integers(1, len(frames.calls)))
        dup_delay = int(ctx.rng.integers(1, 30)) * 1_000_000
    if fault == ("out_of_order", "ocpp") and len(periodic) >= 4:
        first = int(ctx.rng.integers(0, len(periodic) - 3))
        block = periodic[first: first + min(12, len(periodic) - first - 1)]
        flush_at = frames.calls[block[-1]][0] + float(ctx.rng.integers(60, 600))
        for n in block:
            # Queued while offline, sent in a burst later: receive order differs from timestamp order.
            frames.calls[n][4] = flush_at - frames.calls[n][0]
            if protocol == "ocpp2.0.1":
                frames.calls[n][2]["offline"] = True
        info = {"delayed_frames": len(block)}
    malformed_at = None
    if fault == ("malformed_json", "ocpp") and periodic:
        malformed_at = periodic[int(ctx.rng.integers(0, len(periodic)))]
        frames.calls[malformed_at][5] = True

    latency = ctx.rng.integers(20_000, 900_000, len(frames.calls))
    refs = frames.write(start, latency, duplicate, dup_delay)

    tally = ctx.tally
    # A session is counted on the landing day of its Start frame (StartTransaction / TransactionEvent Started).
    start_call = next(n for n, c in enumerate(frames.calls)
                      if c[1] == "StartTransaction" or (c[1] == "TransactionEvent" and c[2]["eventType"] == "Started"))
    start_day = refs[start_call][1].split("/")[1]
    tally.count("ocpp", start_day, "sessions")
    if chunk.cancelled[i]:
        tally.count("ocpp", start_day, "cancelled")
    else:
        tally.source_energy_wh["ocpp"][op.currency] += int(chunk.energy_wh[i])
    if fault is not None and fault[1] == "ocpp":
        kind = fault[0]
        target = {"duplicate_frame": duplicate, "malformed_json": malformed_at}.get(kind)
        mid, rel = refs[target] if target is not None else refs[0]
        tally.fault(kind, "ocpp", session=f"S{sid:09d}", transaction=tx_ref, charge_point_id=cp,
                    message_id=mid, file=rel, **info)


def _sv16(value: str, measurand: str, unit: str, context: str = "Sample.Periodic", phase: str | None = None) -> dict:
    sv = {"value": value, "context": context, "format": "Raw", "measurand": measurand}
    if phase:
        sv["phase"] = phase
    sv["location"] = "Outlet"
    sv["unit"] = unit
    return sv


def _build_16(ctx, chunk, i, fault, frames: _Frames, ts, offsets, values, meter_stop, powers, phases, uid):
    k = int(ctx.fleet.evse_k[int(chunk.evse[i])])
    sid = int(chunk.sid[i])
    tx = ocpp16_transaction_id(sid)
    r0 = int(chunk.register0[i])
    plug = int(chunk.plug_s[i])
    charge = int(chunk.charge_s[i])
    frames.call(-40, "StatusNotification", {"connectorId": k, "errorCode": "NoError", "status": "Preparing",
                                            "timestamp": ts(-40)}, {})
    frames.call(-25, "Authorize", {"idTag": uid}, {"idTagInfo": {"status": "Accepted"}})
    frames.call(0, "StartTransaction", {"connectorId": k, "idTag": uid, "meterStart": r0, "timestamp": ts(0)},
                {"transactionId": tx, "idTagInfo": {"status": "Accepted"}})
    periodic: list[int] = []
    if not chunk.cancelled[i]:
        frames.call(1, "StatusNotification", {"connectorId": k, "errorCode": "NoError", "status": "Charging",
                                              "timestamp": ts(1)}, {})
        begin = "0" if fault == ("transaction_begin_zero", "ocpp") else str(r0)
        frames.call(2, "MeterValues", {"connectorId": k, "transactionId": tx, "meterValue": [
            {"timestamp": ts(0), "sampledValue": [_sv16(begin, REGISTER, "Wh", "Transaction.Begin")]}]}, {})
        dup_context_at = len(offsets) // 2 if fault == ("duplicate_register_context", "ocpp") else -1
        suspended = False
        for n, t in enumerate(offsets.tolist()):
            if not suspended and t > charge and plug - charge > 30:
                frames.call(charge, "StatusNotification", {"connectorId": k, "errorCode": "NoError",
                                                           "status": "SuspendedEV", "timestamp": ts(charge)}, {})
                suspended = True
            p = float(powers[n])
            svs = [_sv16(str(int(values[n])), REGISTER, "Wh"), _sv16(f"{p:.1f}", "Power.Active.Import", "W")]
            if phases == 3:
                amps = f"{p / (3 * _VOLTS_AC):.1f}"
                svs += [_sv16(amps, "Current.Import", "A", phase=ph) for ph in ("L1", "L2", "L3")]
            else:
                svs.append(_sv16(f"{p / _VOLTS_AC:.1f}", "Current.Import", "A", phase="L1"))
            if n == dup_context_at:
                # Same register twice in one message with different contexts (seen on Growatt THOR units).
                svs.append(_sv16(str(r0), REGISTER, "Wh", "Transaction.Begin"))
            periodic.append(frames.call(t, "MeterValues", {"connectorId": k, "transactionId": tx, "meterValue": [
                {"timestamp": ts(t), "sampledValue": svs}]}, {}))
    frames.call(plug, "StopTransaction", {
        "transactionId": tx, "idTag": uid, "meterStop": meter_stop, "timestamp": ts(plug),
        "reason": "EVDisconnected", "transactionData": [
            {"timestamp": ts(0), "sampledValue": [_sv16(str(r0), REGISTER, "Wh", "Transaction.Begin")]},
            {"timestamp": ts(plug), "sampledValue": [_sv16(str(meter_stop), REGISTER, "Wh", "Transaction.End")]}]},
        {"idTagInfo": {"status": "Accepted"}})
    frames.call(plug + 2, "StatusNotification", {"connectorId": k, "errorCode": "NoError", "status": "Available",
                                                  "timestamp": ts(plug + 2)}, {})
    return tx, periodic


def _sv201(value, measurand: str, unit: str, context: str = "Sample.Periodic") -> dict:
    return {"value": value, "context": context, "measurand": measurand, "location": "Outlet",
            "unitOfMeasure": {"unit": unit, "multiplier": 0}}


def _build_201(ctx, chunk, i, fault, frames: _Frames, ts, offsets, values, meter_stop, powers, uid):
    evse_k = int(ctx.fleet.evse_k[int(chunk.evse[i])])
    sid = int(chunk.sid[i])
    tx = ocpp201_transaction_id(ctx.cfg.seed, sid)
    r0 = int(chunk.register0[i])
    plug = int(chunk.plug_s[i])
    charge = int(chunk.charge_s[i])
    start = int(chunk.start[i])
    seq = 0

    def event(t, kind, trigger, state, meter=None, **extra):
        nonlocal seq
        info = {"transactionId": tx, "chargingState": state}
        info.update(extra.pop("info", {}))
        payload = {"eventType": kind, "timestamp": ts(t), "triggerReason": trigger, "seqNo": seq,
                   "transactionInfo": info}
        payload.update(extra)
        if meter is not None:
            payload["meterValue"] = meter
        seq += 1
        result = {"idTokenInfo": {"status": "Accepted"}} if kind == "Started" else {}
        return frames.call(t, "TransactionEvent", payload, result)

    frames.call(-5, "StatusNotification", {"timestamp": ts(-5), "connectorStatus": "Occupied", "evseId": evse_k,
                                           "connectorId": 1}, {})
    begin = 0 if fault == ("transaction_begin_zero", "ocpp") else r0
    event(0, "Started", "Authorized", "EVConnected",
          meter=[{"timestamp": ts(0), "sampledValue": [_sv201(begin, REGISTER, "Wh", "Transaction.Begin")]}],
          idToken={"idToken": uid, "type": "ISO14443"}, evse={"id": evse_k, "connectorId": 1})
    periodic: list[int] = []
    if not chunk.cancelled[i]:
        event(1, "Updated", "ChargingStateChanged", "Charging")
        dup_context_at = len(offsets) // 2 if fault == ("duplicate_register_context", "ocpp") else -1
        soc0 = float(chunk.soc0[i])
        capacity = float(chunk.capacity_wh[i])
        state = "Charging"
        next_clock = (start // 3600 + 1) * 3600
        for n, t in enumerate(offsets.tolist()):
            if state == "Charging" and t > charge and plug - charge > 30:
                event(charge, "Updated", "ChargingStateChanged", "SuspendedEV")
                state = "SuspendedEV"
            while next_clock - start <= t:
                # Clock-aligned register reading, sent as a (non-transaction) MeterValues message.
                ct = next_clock - start
                reg = r0 + int(energy_wh_at(chunk, i, np.array([ct]))[0])
                frames.call(ct, "MeterValues", {"evseId": evse_k, "meterValue": [
                    {"timestamp": ts(ct), "sampledValue": [_sv201(reg, REGISTER, "Wh", "Sample.Clock")]}]}, {})
                next_clock += 3600
            p = float(powers[n])
            soc = min(100.0, soc0 + (int(values[n]) - r0) * 100.0 / capacity)
            svs = [_sv201(int(values[n]), REGISTER, "Wh"), _sv201(round(p, 1), "Power.Active.Import", "W"),
                   _sv201(round(p / _VOLTS_DC, 1), "Current.Import", "A"), _sv201(round(soc, 1), "SoC", "Percent")]
            if n == dup_context_at:
                svs.append(_sv201(r0, REGISTER, "Wh", "Transaction.Begin"))
            periodic.append(event(t, "Updated", "MeterValuePeriodic", state,
                                  meter=[{"timestamp": ts(t), "sampledValue": svs}]))
    event(plug, "Ended", "EVDeparted", "Idle",
          meter=[{"timestamp": ts(plug), "sampledValue": [_sv201(meter_stop, REGISTER, "Wh", "Transaction.End")]}],
          info={"stoppedReason": "EVDisconnected", "timeSpentCharging": charge})
    frames.call(plug + 2, "StatusNotification", {"timestamp": ts(plug + 2), "connectorStatus": "Available",
                                                 "evseId": evse_k, "connectorId": 1}, {})
    return tx, periodic


def first_boot_time(day: dt.date) -> int:
    """Stations (re)connect just after 00:00 UTC on the first generated day."""
    return int(dt.datetime(day.year, day.month, day.day, 0, 0, 5, tzinfo=dt.timezone.utc).timestamp())
