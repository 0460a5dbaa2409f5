"""Persistent issuer of OCPP 1.6 transaction ids.

The register is an append-only jsonl file: one line ``{"transaction_id": n, "start_key": [...]}`` per
issued id, fsynced before the id is returned. On start the next id is one more than the largest ever
issued, so a restart never reuses an id. The start key (charge point, connector, start timestamp,
meterStart, idTag) makes a replayed StartTransaction (a charger re-sending it after a reconnect) receive
the id it was already given instead of opening a second transaction.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path


class TransactionIdRegistry:
    """Issues strictly increasing integer transaction ids that survive restarts."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._by_start_key: dict[tuple, int] = {}
        self._last_issued = 0
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    # A torn last line from a crash mid-write: its id was never returned to anyone.
                    continue
                issued = int(entry["transaction_id"])
                self._last_issued = max(self._last_issued, issued)
                self._by_start_key[tuple(entry["start_key"])] = issued

    def issue(self, charge_point_id: str, connector_id: int, timestamp: str, meter_start: int, id_tag: str) -> int:
        """The id for this start: the earlier one for a replayed start, else a new, never-used one."""
        start_key = (charge_point_id, int(connector_id), str(timestamp), int(meter_start), str(id_tag))
        with self._lock:
            if start_key in self._by_start_key:
                return self._by_start_key[start_key]
            issued = self._last_issued + 1
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"transaction_id": issued, "start_key": list(start_key)}) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            self._last_issued = issued
            self._by_start_key[start_key] = issued
            return issued
