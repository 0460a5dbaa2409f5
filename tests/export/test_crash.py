"""A crash between sending a batch and logging its outcome neither loses nor re-delivers a charge.

The exporter runs in a child process against the loopback stand-in and is killed (`os._exit`, no cleanup,
no exception handlers) right after the receiver answered the second batch and before the answer is
logged. The SQLite export log on disk then holds that batch as PENDING; the next export re-sends it, the
receiver answers Duplicate, and every charge ends DELIVERED, stored once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from assets.export.deliver import Exporter
from assets.export.log import ExportLog
from tests.export.conftest import CLIENT_ID, CLIENT_SECRET, make_charge, make_client

DAY = "2026-10-24"
REPO = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent("""
    import json, os, sys
    from pathlib import Path
    from assets.export.deliver import Exporter
    from assets.export.log import ExportLog
    from resources.charge_api import ChargeApiResource
    from tests.export.conftest import make_charge

    args = json.loads(sys.argv[1])
    answered = {"batches": 0}
    real_record_answer = ExportLog.record_answer

    def record_answer_then_crash(self, batch_id, charges, statuses):
        answered["batches"] += 1
        if answered["batches"] == 2:
            os._exit(17)  # the process dies: the receiver has the batch, the log does not know yet
        real_record_answer(self, batch_id, charges, statuses)

    ExportLog.record_answer = record_answer_then_crash
    client = ChargeApiResource(token_url=args["token_url"], base_url=args["base_url"], client_id=args["client_id"],
                               client_secret=os.environ["CHARGE_API_CLIENT_SECRET"])
    with ExportLog(Path(args["registers"])) as log:
        Exporter(client, log, batch_size=3).export(args["day"], [make_charge(n) for n in range(9)])
    sys.exit(0)
""")


def test_crash_between_send_and_log_is_resolved_by_resending(server, tmp_path):
    args = {"token_url": server.token_url, "base_url": server.url, "client_id": CLIENT_ID,
            "registers": str(tmp_path), "day": DAY}
    env = {**os.environ, "CHARGE_API_CLIENT_SECRET": CLIENT_SECRET, "PYTHONPATH": str(REPO)}
    child = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == 17, child.stderr
    # The receiver stored two batches (6 charges); the log knows only the first as delivered.
    assert len(server.received) == 6
    with ExportLog(tmp_path) as log:
        states = {row[0]: row[4] for row in log.charges_of(DAY)}
        assert sorted(states.values()) == ["DELIVERED"] * 3 + ["PENDING"] * 3
        assert [c.charge_external_id for c in log.pending(DAY)] == ["1003", "1004", "1005"]

        outcome = Exporter(make_client(server), log, batch_size=3).export(DAY, [make_charge(n) for n in range(9)])
        assert (outcome.resent_pending, outcome.duplicate, outcome.sent, outcome.already_delivered) == (3, 3, 3, 3)
        assert outcome.pending == 0
        rows = {row[0]: row for row in log.charges_of(DAY)}
        assert {row[4] for row in rows.values()} == {"DELIVERED"}
        assert [rows[str(1000 + n)][5] for n in range(9)] == ["Success"] * 3 + ["Duplicate"] * 3 + ["Success"] * 3
        assert [rows[str(1000 + n)][7] for n in range(9)] == [1, 1, 1, 2, 2, 2, 1, 1, 1]  # attempts
    # Every charge stored exactly once, with the payload we built.
    assert len(server.received) == 9
    assert all(json.dumps(server.received[c.key], separators=(",", ":")) == c.payload
               for c in (make_charge(n) for n in range(9)))
