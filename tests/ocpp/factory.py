"""Builders of landing lines for the OCPP ingest tests (the gateway's record format)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

_ids = itertools.count(1)


def landing_record(cp: str, protocol: str, direction: str, frame: list | str, received_at: datetime) -> str:
    """One landing line; ``frame`` may be a list (serialised) or raw text (kept as is)."""
    raw = frame if isinstance(frame, str) else json.dumps(frame, separators=(",", ":"))
    message_id = frame[1] if isinstance(frame, list) and len(frame) > 1 else ""
    return json.dumps({"received_at": received_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                       "charge_point_id": cp, "protocol": protocol, "direction": direction,
                       "message_id": message_id, "raw": raw})


class FrameScript:
    """Accumulates CALL/CALLRESULT pairs with increasing receive times, then writes landing files."""

    def __init__(self, cp: str, protocol: str, received_start: datetime):
        self.cp = cp
        self.protocol = protocol
        self.clock = received_start
        self.lines: list[tuple[datetime, str]] = []

    def _tick(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    def call(self, action: str, payload: dict, answer: dict | None = None, message_id: str | None = None,
             at: datetime | None = None) -> str:
        """A CALL in and its CALLRESULT out (``answer`` None: no answer recorded)."""
        message_id = message_id or f"m{next(_ids)}"
        if at is not None:
            self.clock = at
        moment = self._tick()
        self.lines.append((moment, landing_record(self.cp, self.protocol, "in", [2, message_id, action, payload],
                                                  moment)))
        if answer is not None:
            moment = self._tick()
            self.lines.append((moment, landing_record(self.cp, self.protocol, "out", [3, message_id, answer],
                                                      moment)))
        return message_id

    def raw_line(self, text: str) -> None:
        """A line exactly as given (for malformed-input tests)."""
        self.lines.append((self.clock, text))

    def write(self, landing_root: Path, writer: str = "export") -> list[Path]:
        """Write lines into ``ocpp/<date>/<HH>/<writer>.jsonl`` by the receive time of each line."""
        written = []
        for (moment, line) in self.lines:
            path = landing_root / "ocpp" / moment.strftime("%Y-%m-%d") / moment.strftime("%H") / f"{writer}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
            if path not in written:
                written.append(path)
        return written


def register(value: float | str, context: str = "Sample.Periodic", **extra) -> dict:
    """A 1.6 energy register sampled value."""
    return {"value": str(value), "measurand": "Energy.Active.Import.Register", "unit": "Wh", "context": context,
            **extra}


def meter_values_16(connector: int, transaction_id: int | None, timestamp: str, *samples: dict) -> dict:
    """1.6 MeterValues payload with one meterValue element."""
    payload = {"connectorId": connector, "meterValue": [{"timestamp": timestamp, "sampledValue": list(samples)}]}
    if transaction_id is not None:
        payload["transactionId"] = transaction_id
    return payload
