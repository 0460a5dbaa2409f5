"""The same session from two sources is kept once; the other source's figures are kept as a link."""

import datetime as dt
import json

import dagster as dg
import pyarrow.parquet as pq

from assets.ingest.interval_charges.assets import interval_charges
from assets.ingest.ocpi_cdrs.assets import ocpi_cdrs
from assets.reference.assets import locations, operators
import assets.sessions.assets as sessions_module
from assets.sessions.assets import sessions


def _land_a_cdr_collision_and_interval_charges(tmp_landing) -> None:
    root = tmp_landing.root_path
    (root / "reference").mkdir(parents=True)
    (root / "reference" / "operators.json").write_text(json.dumps([
        {"id": "GB-HOM", "name": "Home", "country": "GB", "time_zone": "Europe/London", "currency": "GBP"}]))
    (root / "reference" / "locations.json").write_text("[]")
    cdr = {"country_code": "GB", "party_id": "HOM", "id": "CDR-1", "session_id": "TX-1",
           "start_date_time": "2026-10-25T10:00:00Z", "end_date_time": "2026-10-25T11:00:00Z",
           "cdr_location": {"id": "L1", "country": "GBR"}, "currency": "GBP",
           "total_cost": {"excl_vat": 2.5, "incl_vat": 3.0}, "total_energy": 10, "total_time": 1,
           "last_updated": "2026-10-25T11:05:00Z"}
    collision = dict(cdr, id="CDR-2", session_id="TX-9", start_date_time="2026-10-25T18:00:00Z",
                     end_date_time="2026-10-25T19:00:00Z")
    (root / "ocpi_cdrs" / "2026-10-25").mkdir(parents=True)
    (root / "ocpi_cdrs" / "2026-10-25" / "hom-1.jsonl").write_text(json.dumps(cdr) + "\n" + json.dumps(collision) + "\n")
    charges = [
        {"chargeExternalId": "TX-1", "chargePointExternalId": "HC-1", "startDateTime": "2026-10-25T10:00:30Z",
         "endDateTime": "2026-10-25T11:00:00Z", "totalKwh": 9.98},
        # Same reference as CDR-2 but hours apart: a collision, not the same session.
        {"chargeExternalId": "TX-9", "chargePointExternalId": "HC-2", "startDateTime": "2026-10-25T06:00:00Z",
         "endDateTime": "2026-10-25T07:00:00Z", "totalKwh": 4},
    ]
    (root / "interval_charges" / "2026-10-25").mkdir(parents=True)
    (root / "interval_charges" / "2026-10-25" / "GB-HOM-0001.json").write_text(json.dumps({"charges": charges}))


def test_cdr_and_interval_charge_of_one_session_are_matched(tmp_landing, tmp_warehouse):
    _land_a_cdr_collision_and_interval_charges(tmp_landing)
    resources = {"warehouse": tmp_warehouse, "landing": tmp_landing}
    assert dg.materialize([operators, locations], resources=resources).success
    result = dg.materialize([ocpi_cdrs, interval_charges, sessions], resources=resources, partition_key="2026-10-25")
    assert result.success

    kept = tmp_warehouse.read("sessions", settlement_date=dt.date(2026, 10, 25)).sort("session_id")
    assert kept["session_id"].to_list() == ["interval:GB-HOM:HC-2:TX-9", "ocpi:GB-HOM:CDR-1", "ocpi:GB-HOM:CDR-2"]
    links = tmp_warehouse.read("session_links")
    assert links.select("session_id", "linked_session_id", "linked_source", "energy_wh").rows() == [
        ("ocpi:GB-HOM:CDR-1", "interval:GB-HOM:HC-1:TX-1", "interval", 9980.0)]


def test_sessions_are_written_a_batch_at_a_time_each_batch_its_own_row_group(tmp_landing, tmp_warehouse, monkeypatch):
    """The kept rows are streamed and written batch by batch of session ids (the settlement assets' batches):
    the same rows as one write, one row group per batch, and a re-run gives the same bytes."""
    _land_a_cdr_collision_and_interval_charges(tmp_landing)
    resources = {"warehouse": tmp_warehouse, "landing": tmp_landing}
    assert dg.materialize([operators, locations], resources=resources).success
    assert dg.materialize([ocpi_cdrs, interval_charges], resources=resources, partition_key="2026-10-25").success
    day = dt.date(2026, 10, 25)
    file = tmp_warehouse.partition_path("sessions", None, {"settlement_date": day}) / "part-0.parquet"

    assert dg.materialize([sessions], resources=resources, partition_key="2026-10-25").success
    whole = tmp_warehouse.read("sessions", settlement_date=day)
    assert pq.ParquetFile(file).metadata.num_row_groups == 1

    monkeypatch.setattr(sessions_module, "LIGHT_SESSIONS_PER_BATCH", 1)
    assert dg.materialize([sessions], resources=resources, partition_key="2026-10-25").success
    first_bytes = file.read_bytes()
    assert tmp_warehouse.read("sessions", settlement_date=day).equals(whole)
    groups = pq.ParquetFile(file)
    assert [groups.read_row_group(i).column("session_id").to_pylist() for i in range(groups.num_row_groups)] == [
        ["interval:GB-HOM:HC-2:TX-9"], ["ocpi:GB-HOM:CDR-1"], ["ocpi:GB-HOM:CDR-2"]]
    assert dg.materialize([sessions], resources=resources, partition_key="2026-10-25").success
    assert file.read_bytes() == first_bytes
