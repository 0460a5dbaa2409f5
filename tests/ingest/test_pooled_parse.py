"""A large day's records are parsed on a pool of worker processes (`IngestRun.read`); what it writes is the same.

The hostile corpus of every record-by-record source goes through the real assets twice: parsed in the step's
process, then on two pool workers in batches of three records (so duplicates, conflicting versions and
schema-mismatched rows fall in different batches and different workers). Every file written, accepted rows,
child tables and quarantine, must be byte for byte the same.
"""

from __future__ import annotations

import json
import pickle

import dagster as dg
import pytest

from assets import parallel
from assets.ingest.common import run as ingest_run
from assets.ingest.common.files import RawRecord
from assets.ingest.eevion.assets import eevion_sessions
from assets.ingest.interval_charges.assets import interval_charges
from assets.ingest.ocpi_cdrs.assets import ocpi_cdrs
from assets.ingest.platform.ingest import platform_cdrs, platform_sessions
from assets.reference.assets import locations, operators
from tests.ingest.corpus import cases
from tests.ingest.corpus.test_corpus import _reference_files

SOURCES = [
    (ocpi_cdrs, cases.FILE_DAY, cases.ocpi_cases),
    (interval_charges, cases.FILE_DAY, cases.interval_cases),
    (platform_cdrs, cases.API_DAY, cases.platform_cdr_cases),
    (platform_sessions, cases.API_DAY, cases.platform_session_cases),
    (eevion_sessions, cases.API_DAY, cases.eevion_cases),
]


def _written(warehouse) -> dict[str, bytes]:
    root = warehouse.root_path
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet"))
            if p.parts[len(root.parts)] not in ("operators", "locations", "evses")}


def test_a_day_parsed_on_the_pool_writes_the_same_files(tmp_landing, tmp_warehouse, monkeypatch):
    _reference_files(tmp_landing)
    resources = {"warehouse": tmp_warehouse, "landing": tmp_landing}
    assert dg.materialize([operators, locations], resources=resources).success
    expected_records = 0
    for _, day, build in SOURCES:
        expected_records += len(cases.land(tmp_landing.root_path, day, build()))

    def run_all() -> dict[str, bytes]:
        for asset, day, _ in SOURCES:
            assert dg.materialize([asset], resources=resources, partition_key=day).success
        return _written(tmp_warehouse)

    in_process = run_all()
    assert len(in_process) >= 10  # every source's partition, its child tables and its quarantine slice

    monkeypatch.setattr(ingest_run, "POOLED_INGEST_BYTES", 0)
    monkeypatch.setattr(ingest_run, "POOLED_BATCH_SIZE", 3)
    worker_cpu = parallel.worker_cpu_seconds()
    try:
        pooled = run_all()
    finally:
        parallel.close_shared_pool()
    assert parallel.worker_cpu_seconds() > worker_cpu  # the records were parsed by the workers
    assert pooled == in_process
    assert expected_records > 60


@pytest.mark.parametrize("record", [
    RawRecord("page.json#0", json.dumps({"id": 7, "amount": 1.1, "nested": [None, True, "é\u2028"]}).encode(),
              {"id": 7, "amount": 1.1, "nested": [None, True, "é\u2028"]}, True),
    RawRecord("cdrs.jsonl:3", b'{"not": "decoded yet"}'),
    RawRecord("cdrs.jsonl:4", b"\xff not JSON"),
])
def test_a_record_crosses_to_a_worker_as_its_bytes_and_comes_out_equal(record):
    crossed = pickle.loads(pickle.dumps(record))
    assert crossed == record


def test_a_decoded_record_crosses_without_its_value():
    # The value a worker gets is decoded from the bytes, not the pickled value: a marker that is not the bytes'
    # JSON does not cross (with dataclass pickling it would, and the reading process would pickle every value).
    record = RawRecord("page.json#0", b'{"id": 7}', {"marker": "not crossed"}, True)
    crossed = pickle.loads(pickle.dumps(record))
    assert crossed.value == {"id": 7} and crossed.decoded
    assert b"not crossed" not in pickle.dumps(record)


def test_every_ingest_parser_can_go_to_a_worker():
    # A parser that cannot be pickled would fail its asset only on a day large enough to be pooled.
    from assets.ingest.common import guards
    from assets.ingest.eevion import assets as eevion
    from assets.ingest.platform import ingest as platform

    window = guards.window_for("2026-10-25")
    runs = [platform.cdr_run({}, {}, window), platform.session_run({}, {}, window), platform.stats_run(window),
            platform.tariff_run(), platform.rate_run(), eevion.session_run({}, window), eevion.report_run()]
    for run in runs:
        crossed = pickle.loads(pickle.dumps(run.parser))
        assert crossed.source == run.parser.source and crossed.spec == run.parser.spec
