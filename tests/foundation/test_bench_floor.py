"""The OCPP floor of bench_settlement encodes exactly the three OCPP tables, every row of them, the way the
warehouse stores them."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pyarrow.parquet as pq

import bench.bench_settlement as bench_settlement
from assets.ingest.ocpp.tables import METER_READINGS, OCPP_MESSAGES
from resources import warehouse as warehouse_module
from resources.warehouse import WarehouseResource

DAY = dt.date(2026, 11, 20)


def test_the_floor_encodes_every_row_of_the_ocpp_tables_and_nothing_else(tmp_path, monkeypatch):
    warehouse = WarehouseResource(root=str(tmp_path))
    start = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    messages = pl.DataFrame([{
        "landing_date": DAY, "record_ref": f"ocpp/x.jsonl:{i + 1}", "received_at": start + dt.timedelta(seconds=i),
        "charge_point_id": "CP-1", "protocol": "ocpp1.6", "direction": "in", "message_type": "CALL",
        "message_id": f"m{i}", "action": "Heartbeat", "transaction_id": None, "payload_json": "{}",
        "error_code": None, "error_description": None, "is_replay": False, "raw": f'[2,"m{i}","Heartbeat",{{}}]',
    } for i in range(300)], schema=OCPP_MESSAGES.schema)
    for day in (DAY, DAY + dt.timedelta(days=1)):
        path = warehouse.write_partition(OCPP_MESSAGES, messages.with_columns(pl.lit(day).alias("landing_date")),
                                         landing_date=day)
    # the second partition in three row groups, as the streaming writers store large partitions
    pl.read_parquet(path).write_parquet(path, row_group_size=100)
    assert pq.ParquetFile(path).num_row_groups == 3
    warehouse.write_partition(METER_READINGS, METER_READINGS.empty_frame(), landing_date=DAY)
    # another table of the warehouse: not part of the OCPP ingest's output
    (tmp_path / "sessions" / "settlement_date=2026-11-20").mkdir(parents=True)
    messages.write_parquet(tmp_path / "sessions" / "settlement_date=2026-11-20" / "part.parquet")

    encoded: list[int] = []
    real = warehouse_module.write_parquet
    monkeypatch.setattr(warehouse_module, "write_parquet", lambda frame, handle: (encoded.append(frame.height),
                                                                                  real(frame, handle)))
    measurement = bench_settlement.Measurement(0, 0.0, 0.0, 0)
    bench_settlement.encode_floor(tmp_path, measurement)
    # every row group of both ocpp_messages partitions (300 + 3 x 100 rows); the empty meter_readings file has no
    # row group; nothing of sessions
    assert sorted(encoded) == [100, 100, 100, 300]
    assert measurement.ocpp_encode_s > 0
