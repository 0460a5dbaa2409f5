"""Charge-point shards of a landing date: every line in exactly one shard, one file per shard that every reader
sees, stale shard files removed, and a line whose text and parse disagree sends the date back to one process.
(The whole settlement in shards against one process: tests/e2e/test_settlement_placement.py.)"""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import polars as pl
import pytest

import assets.ingest.ocpp.assets as ocpp_assets
import assets.ingest.ocpp.shards as shards_module
from assets.ingest.common.files import COMPRESSION_RATIO, LINES, LandedFile, RecordReader, classify
from assets.ingest.ocpp import meter_readings, ocpp_messages, transactions
from assets.ingest.ocpp.assets import _previous_calls
from assets.ingest.ocpp.shards import (SHARD_LANDING_BYTES, SHARD_MAX_LANDING_BYTES, SHARDS_ENV,
                                       WORKER_MEMORY_BYTES, Shard, ShardMismatch, auto_shard_count, shard_count,
                                       shard_of, stored_shards)
from assets.ingest.ocpp.tables import OCPP_MESSAGES, OCPP_TRANSACTION_DAYS
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource, files_of_shard
from tests.ocpp.factory import FrameScript, meter_values_16, register

DAY = dt.date(2026, 11, 20)


def _line(charge_point: str, number: int, escaped: bool = False) -> str:
    envelope = {"received_at": f"2026-11-20T10:{number // 60:02d}:{number % 60:02d}.000000Z",
                "charge_point_id": charge_point, "protocol": "ocpp1.6", "direction": "in",
                "message_id": f"m{number}", "raw": json.dumps([2, f"m{number}", "Heartbeat", {}])}
    text = json.dumps(envelope, separators=(",", ":"))
    if escaped:  # the same charge point, written with a JSON escape the line's plain-text reading cannot see
        text = text.replace(f'"charge_point_id":"{charge_point}"',
                            '"charge_point_id":"' + "".join(f"\\u{ord(c):04x}" for c in charge_point) + '"')
    return text


def _charge_point_in(shard: int, count: int = 2, skip: int = 0) -> str:
    found = [f"CP-{n:03d}" for n in range(200) if shard_of(f"CP-{n:03d}", count) == shard]
    return found[skip]


def test_every_line_goes_to_exactly_one_shard(tmp_path):
    lines = [_line(f"CP-{n % 9:03d}", n) for n in range(40)] + ["not json", '{"charge_point_id":12}',
                                                                 _line("CP-007", 99, escaped=True), "x" * 900]
    path = tmp_path / "f.jsonl"
    path.write_text("\n".join(lines) + "\n")
    reader = RecordReader(source="ocpp_frame", layouts=(LINES,), batch_size=7, max_record_bytes=800)
    split = [list(Shard(index, 3).read(reader, [classify(path, tmp_path)])) for index in range(3)]
    refs = [ref for shard in split for part in shard for ref in part.refs.to_list()]
    assert sorted(refs) == sorted(f"f.jsonl:{n}" for n in range(1, len(lines)))  # nothing lost, nothing twice
    for index, shard in enumerate(split):
        for part in shard:
            for line in part.lines.to_list():
                charge_point = json.loads(line)["charge_point_id"] if line.startswith("{") else None
                readable = isinstance(charge_point, str) and "\\u" not in line
                assert index == (shard_of(charge_point, 3) if readable else 0)
    # the oversized line is rejected once, by shard 0
    rejected = [[(r.record_ref, r.reason_code) for part in shard for r in part.rejected] for shard in split]
    assert rejected == [[(f"f.jsonl:{len(lines)}", "RECORD_TOO_LARGE")], [], []]


def test_a_shard_refuses_frames_of_another_shards_charge_point():
    mine, other = _charge_point_in(1), _charge_point_in(0)
    Shard(1, 2).check_charge_points(pl.Series([mine, mine]))
    with pytest.raises(ShardMismatch, match=other):
        Shard(1, 2).check_charge_points(pl.Series([mine, other]))
    Shard(0, 1).check_charge_points(pl.Series([mine, other]))  # not split: every charge point is its own


def _landed(tmp_path, name: str, size: int) -> LandedFile:
    path = tmp_path / name
    with path.open("wb") as handle:
        handle.truncate(size)  # sparse: only the size counts
    return classify(path, tmp_path)


def test_shard_count_from_the_environment(monkeypatch, tmp_path):
    small = [_landed(tmp_path, "small.jsonl", 1000)]
    for unset_or_auto in (None, "auto", " AUTO "):
        if unset_or_auto is None:
            monkeypatch.delenv(SHARDS_ENV, raising=False)
        else:
            monkeypatch.setenv(SHARDS_ENV, unset_or_auto)
        assert shard_count(small) == 1  # a small date is not split
    monkeypatch.setenv(SHARDS_ENV, "4")
    assert shard_count(small) == 4
    for bad in ("two", "0", "65"):
        monkeypatch.setenv(SHARDS_ENV, bad)
        with pytest.raises(ValueError, match=SHARDS_ENV):
            shard_count(small)
    assert stored_shards([]) == [Shard()] and stored_shards([0]) == [Shard()]
    assert stored_shards([0, 1]) == [Shard(0, 2), Shard(1, 2)]


def test_auto_splits_a_large_date_within_the_cores_and_memory(tmp_path):
    gib = 2**30
    plain = [_landed(tmp_path, "a.jsonl", SHARD_LANDING_BYTES - 1)]
    assert auto_shard_count(plain, cores=8, memory_bytes=64 * gib) == 1
    large = [_landed(tmp_path, "b.jsonl", 2 * SHARD_LANDING_BYTES), _landed(tmp_path, "c.jsonl", SHARD_LANDING_BYTES + 5)]
    assert auto_shard_count(large, cores=8, memory_bytes=64 * gib) == 3  # one per SHARD_LANDING_BYTES
    assert auto_shard_count(large, cores=2, memory_bytes=64 * gib) == 2  # at most one per core
    assert auto_shard_count(large, cores=8, memory_bytes=2 * WORKER_MEMORY_BYTES + 1) == 2  # and per worker's memory
    assert auto_shard_count(large, cores=8, memory_bytes=gib) == 1
    # a compressed file counts COMPRESSION_RATIO times its size on disk
    packed = [_landed(tmp_path, "d.jsonl.gz", 2 * SHARD_LANDING_BYTES // COMPRESSION_RATIO)]
    assert packed[0].compression == "gzip"
    assert auto_shard_count(packed, cores=8, memory_bytes=64 * gib) == 2
    assert auto_shard_count([], cores=8, memory_bytes=64 * gib) == 1


def test_auto_cuts_a_date_too_large_for_the_cores_finer_than_the_cores(tmp_path):
    """A shard never takes more than SHARD_MAX_LANDING_BYTES (its key state grows with its lines): a date of more
    than cores x that gets more shards than cores, which take turns on the pool."""
    gib = 2**30
    huge = [_landed(tmp_path, "e.jsonl", 3 * SHARD_MAX_LANDING_BYTES + 1)]
    assert auto_shard_count(huge, cores=2, memory_bytes=64 * gib) == 4
    assert auto_shard_count(huge, cores=8, memory_bytes=64 * gib) == 8  # within the cores: one per core
    assert auto_shard_count(huge, cores=1, memory_bytes=gib) == 4  # even where one runs at a time
    two_cores = [_landed(tmp_path, "f.jsonl", 2 * SHARD_MAX_LANDING_BYTES)]
    assert auto_shard_count(two_cores, cores=2, memory_bytes=64 * gib) == 2  # exactly two shards' worth: two


def test_a_partition_in_shard_files_reads_whole_and_loses_stale_shards(tmp_path):
    warehouse = WarehouseResource(root=str(tmp_path))
    rows = pl.DataFrame({"transaction_id": ["a", "b", "c"], "charge_point_id": ["x", "y", "z"]})
    warehouse.write_partition(OCPP_TRANSACTION_DAYS, rows.head(2), part=0, landing_date=DAY)
    warehouse.write_partition(OCPP_TRANSACTION_DAYS, rows.tail(1), part=1, landing_date=DAY)
    warehouse.write_partition(OCPP_TRANSACTION_DAYS, rows, landing_date=DAY - dt.timedelta(days=1))
    assert warehouse.partition_parts(OCPP_TRANSACTION_DAYS, landing_date=DAY) == [0, 1]
    assert warehouse.partitions(OCPP_TRANSACTION_DAYS.name) == [{"landing_date": "2026-11-19"},
                                                                {"landing_date": "2026-11-20"}]
    assert sorted(warehouse.read(OCPP_TRANSACTION_DAYS, landing_date=DAY)["transaction_id"]) == ["a", "b", "c"]
    assert warehouse.read(OCPP_TRANSACTION_DAYS, landing_date=DAY, part=1)["transaction_id"].to_list() == ["c"]
    sliced = warehouse.scan_slices(OCPP_TRANSACTION_DAYS.name, landing_date=DAY, part=1)
    assert pl.concat([s.collect() for s in sliced])["transaction_id"].to_list() == ["c"]
    assert warehouse.read(OCPP_TRANSACTION_DAYS, landing_date=DAY, part=0).height == 2
    warehouse.remove_partition(OCPP_TRANSACTION_DAYS, keep=[0], landing_date=DAY)
    assert warehouse.partition_parts(OCPP_TRANSACTION_DAYS, landing_date=DAY) == [0]
    assert warehouse.read(OCPP_TRANSACTION_DAYS).height == 5
    warehouse.remove_partition(OCPP_TRANSACTION_DAYS, landing_date=DAY)
    assert warehouse.partition_parts(OCPP_TRANSACTION_DAYS, landing_date=DAY) == []


def _ingest(tmp_path, name: str, lines: list[str], monkeypatch, shards: int) -> tuple[WarehouseResource, dict]:
    landing = tmp_path / f"landing-{name}"
    folder = landing / "ocpp" / DAY.isoformat() / "10"
    folder.mkdir(parents=True)
    (folder / "gateway.jsonl").write_text("\n".join(lines) + "\n")
    warehouse = WarehouseResource(root=str(tmp_path / f"warehouse-{name}"))
    monkeypatch.setenv(SHARDS_ENV, str(shards))
    result = dg.materialize([ocpp_messages, meter_readings, transactions], partition_key=DAY.isoformat(),
                            resources={"warehouse": warehouse, "landing": LandingZoneResource(root=str(landing))})
    assert result.success
    metadata = {event.asset_key.to_user_string(): event.step_materialization_data.materialization.metadata
                for event in result.get_asset_materialization_events()}
    metadata["shard steps"] = sorted(event.step_key for event in result.all_events
                                     if event.event_type_value == "STEP_START" and "_shards[" in event.step_key)
    return warehouse, metadata


def _shard_steps(group: str, later_group: str | None = None) -> list[str]:
    """The shard steps of the three assets: ``ocpp_messages``' one running ``group``, the later ones ``later_group``."""
    return sorted(f"{name}.{name}_shards[{group if name == 'ocpp_messages' else later_group or group}]"
                  for name in ("ocpp_messages", "meter_readings", "transactions"))


def _rows(warehouse: WarehouseResource, table: str) -> pl.DataFrame:
    return warehouse.read(table).sort("record_ref")


def test_shards_give_the_rows_of_one_process_and_a_stray_line_the_date_back_to_one(tmp_path, monkeypatch):
    one, two = _charge_point_in(0), _charge_point_in(1)
    lines = [_line(one if n % 2 else two, n) for n in range(20)] + ["{broken", _line(one, 5)]  # a duplicate
    whole, whole_meta = _ingest(tmp_path, "whole", lines, monkeypatch, shards=1)
    split, split_meta = _ingest(tmp_path, "split", lines, monkeypatch, shards=2)
    assert split.partition_parts(OCPP_MESSAGES, landing_date=DAY) == [0, 1]
    assert whole.partition_parts(OCPP_MESSAGES, landing_date=DAY) == [0]
    assert _rows(split, "ocpp_messages").equals(_rows(whole, "ocpp_messages"))
    assert _rows(split, "quarantine").drop("partition_key").equals(_rows(whole, "quarantine").drop("partition_key"))
    assert split_meta["ocpp_messages"]["shards"].value == 2 and "shards" not in whole_meta["ocpp_messages"]
    for name in ("rows_in", "rows_accepted", "rows_quarantined"):
        assert split_meta["ocpp_messages"][name] == whole_meta["ocpp_messages"][name]
    assert whole_meta["ocpp_messages"]["rows_in"].value == 22
    assert whole_meta["ocpp_messages"]["rows_quarantined"].value == 2  # the broken line and the duplicate
    assert split_meta["meter_readings"]["shards"].value == 2  # the later steps take the date's shards
    assert split.partition_parts("transactions", landing_date=DAY) == [0, 1]
    # The run's steps share this process, so one step of each asset runs all its shards (on a pool when split).
    assert whole_meta["shard steps"] == _shard_steps("whole") and split_meta["shard steps"] == _shard_steps("shard_0_1")

    # A line that names shard 0's charge point only once its escape is decoded, beside shard 1's frames of it
    stray = lines + [_line(two, 30, escaped=True)]
    whole, _ = _ingest(tmp_path, "whole-stray", stray, monkeypatch, shards=1)
    fallen_back, meta = _ingest(tmp_path, "split-stray", stray, monkeypatch, shards=2)
    assert fallen_back.partition_parts(OCPP_MESSAGES, landing_date=DAY) == [0]
    assert "shards" not in meta["ocpp_messages"]
    assert meta["shard steps"] == _shard_steps("shard_0_1", "whole")  # the report step ingested the date whole
    assert _rows(fallen_back, "ocpp_messages").equals(_rows(whole, "ocpp_messages"))


def _charging_lines(charge_points: int) -> list[str]:
    """Each charge point starts a transaction, meters it three times and stops it (1.6J, answers included)."""
    lines: list[str] = []
    for n in range(charge_points):
        script = FrameScript(f"CP-{n:03d}", "ocpp1.6", dt.datetime(2026, 11, 20, 10, n, tzinfo=dt.UTC))
        script.call("StartTransaction", {"connectorId": 1, "idTag": f"TAG-{n}", "meterStart": 1_000 * n,
                                         "timestamp": f"2026-11-20T10:{n:02d}:00Z"},
                    {"transactionId": 100 + n, "idTagInfo": {"status": "Accepted"}})
        for k in (1, 2, 3):
            script.call("MeterValues", meter_values_16(1, 100 + n, f"2026-11-20T10:{n:02d}:{10 * k:02d}Z",
                                                       register(1_000 * n + 500 * k)), {})
        script.call("StopTransaction", {"transactionId": 100 + n, "meterStop": 1_000 * n + 2_000,
                                        "timestamp": f"2026-11-20T10:{n:02d}:40Z", "reason": "Local"},
                    {"idTagInfo": {"status": "Accepted"}})
        lines += [text for _, text in script.lines]
    return lines


def test_more_shards_than_workers_take_turns_and_give_the_rows_of_one_process(tmp_path, monkeypatch):
    """A date cut finer than the workers (auto does so past SHARD_MAX_LANDING_BYTES a shard): five shards on a pool
    of two give the rows, quarantine and counts of one process, each shard in its own part."""
    monkeypatch.setattr(shards_module, "concurrent_shards", lambda *_: 2)
    lines = _charging_lines(13)  # 13 charge points x 5 CALLs and their 5 answers
    lines += ["{broken", lines[7]]  # a line that is not JSON, and a frame landed twice
    whole, whole_meta = _ingest(tmp_path, "whole5", lines, monkeypatch, shards=1)
    split, split_meta = _ingest(tmp_path, "split5", lines, monkeypatch, shards=5)
    assert split.partition_parts(OCPP_MESSAGES, landing_date=DAY) == [0, 1, 2, 3, 4]
    assert split.partition_parts("meter_readings", landing_date=DAY) == [0, 1, 2, 3, 4]
    for table, key in (("ocpp_messages", "record_ref"), ("meter_readings", "record_ref"),
                       ("transactions", "transaction_id")):
        assert split.read(table).sort(key).equals(whole.read(table).sort(key)), table
    assert _rows(split, "quarantine").drop("partition_key").equals(_rows(whole, "quarantine").drop("partition_key"))
    assert split_meta["ocpp_messages"]["rows_in"].value == whole_meta["ocpp_messages"]["rows_in"].value == 132
    assert split_meta["ocpp_messages"]["rows_quarantined"].value == 2
    # Every charge point's transaction, complete, with its three register readings, whichever shard it fell in.
    assert split.read("meter_readings").height == 13 * 3
    # ... and every one of the five shard files holds some of them: each shard, not only a few, carried rows.
    assert all(split.scan("meter_readings", part=n).collect().height > 0 for n in range(5))
    done = split.read("transactions").filter(pl.col("status") == "complete").sort("transaction_id")
    assert done.height == 13 and done["energy_wh"].to_list() == [2_000.0] * 13
    assert split_meta["shard steps"] == _shard_steps("shard_0_1_2_3_4")


def test_the_files_do_not_depend_on_where_the_landing_batches_end(tmp_path, monkeypatch):
    """``ocpp_messages`` reads ``OCPP_BATCH_LINES`` landing lines at a time; in batches of 7 (answers a batch after
    their CALL, a duplicate many batches after its first landing) the three tables and the quarantine are the
    bytes of one batch."""
    lines = _charging_lines(13)
    lines += ["{broken", lines[7]]  # a line that is not JSON, and a frame landed twice
    whole, _ = _ingest(tmp_path, "one-batch", lines, monkeypatch, shards=1)
    monkeypatch.setattr(ocpp_assets, "OCPP_BATCH_LINES", 7)
    cut, meta = _ingest(tmp_path, "batches-of-7", lines, monkeypatch, shards=1)
    assert meta["ocpp_messages"]["rows_in"].value == 132 and meta["ocpp_messages"]["rows_quarantined"].value == 2
    def files(warehouse: WarehouseResource, table: str) -> dict:
        return {path.relative_to(warehouse.root_path): path.read_bytes()
                for path in (warehouse.root_path / table).rglob("*.parquet")}

    for table in ("ocpp_messages", "meter_readings", "transactions", "quarantine"):
        assert files(whole, table) and files(cut, table) == files(whole, table), table
    assert cut.read("transactions").filter(pl.col("status") == "complete").height == 13


def test_a_failed_shard_leaves_the_dates_previous_files_whole(tmp_path, monkeypatch):
    """Shards write staged files that the report step switches in together: when one shard fails, readers keep
    every previous file of the date (not shard 0's new file beside shard 1's old one)."""
    one, two = _charge_point_in(0), _charge_point_in(1)
    lines = [_line(one if n % 2 else two, n) for n in range(20)]
    warehouse, _ = _ingest(tmp_path, "staged", lines, monkeypatch, shards=2)
    folder = warehouse.root_path / "ocpp_messages" / f"landing_date={DAY.isoformat()}"
    before = {path.name: path.read_bytes() for path in folder.glob("*.parquet")}
    assert sorted(before) == ["part-0.parquet", "part-1.parquet"]
    assert not list(warehouse.root_path.rglob("*.staged"))
    rows_before = _rows(warehouse, "ocpp_messages")

    # More frames of both shards land; shard 1 cannot put its staged file in place (a folder is in the way).
    (tmp_path / "landing-staged" / "ocpp" / DAY.isoformat() / "10" / "late.jsonl").write_text(
        "\n".join(_line(one if n % 2 else two, n) for n in range(40, 50)) + "\n")
    (folder / ".part-1.parquet.staged").mkdir()
    landing = LandingZoneResource(root=str(tmp_path / "landing-staged"))
    failed = dg.materialize([ocpp_messages, meter_readings, transactions], partition_key=DAY.isoformat(),
                            resources={"warehouse": warehouse, "landing": landing}, raise_on_error=False)
    assert not failed.success
    assert {path.name: path.read_bytes() for path in folder.glob("*.parquet")} == before
    assert (folder / ".part-0.parquet.staged").is_file()  # shard 0 finished, and waits unseen
    assert _rows(warehouse, "ocpp_messages").equals(rows_before)

    (folder / ".part-1.parquet.staged").rmdir()
    again = dg.materialize([ocpp_messages, meter_readings, transactions], partition_key=DAY.isoformat(),
                           resources={"warehouse": warehouse, "landing": landing})
    assert again.success and _rows(warehouse, "ocpp_messages").height == rows_before.height + 10
    assert warehouse.partition_parts(OCPP_MESSAGES, landing_date=DAY) == [0, 1]
    assert not list(warehouse.root_path.rglob("*.staged"))  # published or removed, none left


def _calls(charge_points: list[str]) -> pl.DataFrame:
    """One CALL and one answer of each charge point, as ``ocpp_messages`` rows (the columns the index reads set)."""
    rows = [{"received_at": dt.datetime(2026, 11, 19, 23, 59, tzinfo=dt.timezone.utc), "charge_point_id": cp,
             "direction": direction, "message_id": f"m-{cp}", "message_type": kind, "action": "Heartbeat",
             "record_ref": f"f:{n}:{kind}", "protocol": "ocpp1.6"}
            for n, cp in enumerate(charge_points) for kind, direction in (("CALL", "in"), ("CALLRESULT", "out"))]
    schema = {c: t for c, t in OCPP_MESSAGES.schema.items() if c != "landing_date"}
    return pl.DataFrame(rows).with_columns(pl.lit(None).alias(c) for c in schema if c not in rows[0]).cast(schema)


@pytest.mark.parametrize("stored_parts", [1, 2, 3])
def test_a_shard_indexes_only_its_own_charge_points_calls_of_the_day_before(tmp_path, stored_parts):
    """An answer only answers its own charge point's CALL: whatever files the previous date has, a shard's index
    gets exactly its charge points' CALLs of it (reading only its part when the date was split alike)."""
    warehouse = WarehouseResource(root=str(tmp_path))
    before = DAY - dt.timedelta(days=1)
    charge_points = [f"CP-{n:03d}" for n in range(12)]
    for part in range(stored_parts):
        mine = [cp for cp in charge_points if shard_of(cp, stored_parts) == part]
        warehouse.write_partition(OCPP_MESSAGES, _calls(mine), part=part, landing_date=before)
    assert warehouse.partition_parts(OCPP_MESSAGES, landing_date=before) == list(range(stored_parts))
    for shard in [Shard(), Shard(0, 2), Shard(1, 2)]:
        calls = pl.concat(list(_previous_calls(warehouse, before, shard)))
        expected = sorted(cp for cp in charge_points if shard.count == 1 or shard_of(cp, 2) == shard.index)
        assert sorted(calls.get_column("charge_point_id").to_list()) == expected
        assert calls.columns == ["charge_point_id", "direction", "message_id", "action"]
        assert set(calls.get_column("direction").to_list()) == {"in"}


def test_a_shard_reads_only_its_own_part_of_a_date_split_alike():
    files = ["landing_date=2026-11-19/part-0.parquet", "landing_date=2026-11-19/part-1.parquet",
             "landing_date=2026-11-20/part-0.parquet", "landing_date=2026-11-20/part-1.parquet",
             "landing_date=2026-11-20/part-2.parquet", "landing_date=2026-11-21/part-0.parquet"]
    # the date split in two: only shard 1's part; the dates split otherwise or written whole: every file
    assert files_of_shard(files, 1, 2) == [files[1], *files[2:]]
    assert files_of_shard(files, 2, 3) == [*files[:2], files[4], files[5]]
    assert files_of_shard(files, 0, 1) == [*files[:5], files[5]]


def _sessions_across_midnight(landing_root, charge_points: int) -> None:
    """Each charge point starts a transaction and meters it twice on the 19th, meters it once more and stops it on
    the 20th (1.6J, answers included), so the 20th's readings and transactions need the 19th's."""
    for n in range(charge_points):
        script = FrameScript(f"CP-{n:03d}", "ocpp1.6", dt.datetime(2026, 11, 19, 23, 0, n, tzinfo=dt.UTC))
        script.call("StartTransaction", {"connectorId": 1, "idTag": f"TAG-{n}", "meterStart": 1_000 * n,
                                         "timestamp": "2026-11-19T23:00:00Z"},
                    {"transactionId": 100 + n, "idTagInfo": {"status": "Accepted"}})
        for k in (1, 2):
            script.call("MeterValues", meter_values_16(1, 100 + n, f"2026-11-19T23:{20 * k}:00Z",
                                                       register(1_000 * n + 500 * k)), {})
        script.call("MeterValues", meter_values_16(1, 100 + n, "2026-11-20T00:20:00Z", register(1_000 * n + 1_500)), {},
                    at=dt.datetime(2026, 11, 20, 0, 20, n, tzinfo=dt.UTC))
        script.call("StopTransaction", {"transactionId": 100 + n, "meterStop": 1_000 * n + 2_000,
                                        "timestamp": "2026-11-20T00:30:00Z", "reason": "Local"},
                    {"idTagInfo": {"status": "Accepted"}})
        script.write(landing_root)


@pytest.mark.parametrize("shards_before, shards_after", [(2, 2), (3, 2)])
def test_a_date_split_like_the_day_before_or_not_gives_the_rows_of_one_process(tmp_path, monkeypatch,
                                                                              shards_before, shards_after):
    """A shard of the 20th reads the 19th's readings and frames of its own transactions: only its own part when the
    19th was split alike (``files_of_shard``), every part when not; the rows are those of one process either way."""
    landing = LandingZoneResource(root=str(tmp_path / "landing"))
    _sessions_across_midnight(landing.root_path, 13)

    def settle(name: str, counts: tuple[int, int]) -> WarehouseResource:
        warehouse = WarehouseResource(root=str(tmp_path / f"warehouse-{name}"))
        for day, count in zip((DAY - dt.timedelta(days=1), DAY), counts):
            monkeypatch.setenv(SHARDS_ENV, str(count))
            assert dg.materialize([ocpp_messages, meter_readings, transactions], partition_key=day.isoformat(),
                                  resources={"warehouse": warehouse, "landing": landing}).success
        return warehouse

    whole, split = settle("whole", (1, 1)), settle("split", (shards_before, shards_after))
    assert split.partition_parts("meter_readings", landing_date=DAY) == list(range(shards_after))
    assert split.partition_parts("meter_readings", landing_date=DAY - dt.timedelta(days=1)) == list(range(shards_before))
    for table, key in (("meter_readings", "record_ref"), ("transactions", "transaction_id")):
        assert split.read(table, landing_date=DAY).sort(key).equals(whole.read(table, landing_date=DAY).sort(key)), table
    done = split.read("transactions", landing_date=DAY).filter(pl.col("status") == "complete").sort("transaction_id")
    assert done.height == 13 and done["energy_wh"].to_list() == [2_000.0] * 13
    assert split.read("meter_readings", landing_date=DAY).height == 13
