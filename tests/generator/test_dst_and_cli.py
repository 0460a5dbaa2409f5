"""DST coverage of the default demo window, the CLI, configuration errors and streaming in chunks."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from data.config import GeneratorConfig
from data.generate import main, parse_args, run
from data.timeutil import local_minute_table


def test_default_window_contains_the_eu_clock_change(small_run):
    _, manifest = small_run
    assert manifest["dst_changes"]["Europe/London"] == ["2026-10-25T01:00:00Z"]
    assert manifest["dst_changes"]["Europe/Amsterdam"] == ["2026-10-25T01:00:00Z"]
    refs = manifest["dst_sessions"]["refs"]
    assert manifest["dst_sessions"]["count"] == len(refs) > 0
    assert manifest["dst_sessions"]["refs_truncated"] is False
    for ref in refs:
        assert ref["start"] < ref["transition"] <= ref["end"]
    assert {r["time_zone"] for r in refs} >= {"Europe/London"}


def test_repeated_local_hour_maps_to_two_instants():
    # 01:30 local happens twice in London on 2026-10-25: 00:30Z (BST, fold 0) and 01:30Z (GMT, fold 1).
    table = local_minute_table("Europe/London", dt.date(2026, 10, 25))
    assert table[1, 90] - table[0, 90] == 3600
    assert table[0, 90] == int(dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.timezone.utc).timestamp())
    # On an ordinary day both folds agree, and a local day has 1440 distinct minutes.
    plain = local_minute_table("Europe/London", dt.date(2026, 10, 24))
    assert (plain[0] == plain[1]).all() and len(set(plain[0].tolist())) == 1440


def test_cli_parses_flags(tmp_path):
    cfg = parse_args(["--out", str(tmp_path), "--seed", "5", "--start", "2027-03-27", "--days", "2",
                      "--sessions-per-day", "30", "--fault-rate", "0.1", "--meter-interval", "30",
                      "--sources", "ocpi_cdrs,reference"])
    assert cfg.seed == 5 and cfg.start == dt.date(2027, 3, 27) and cfg.meter_interval == 30
    assert cfg.sources == frozenset({"ocpi_cdrs", "reference"})


def test_cli_writes_only_selected_sources(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--days", "1", "--sessions-per-day", "40",
                 "--sources", "ocpi_cdrs,interval_charges,reference"]) == 0
    assert "kWh by currency" in capsys.readouterr().out
    assert {p.name for p in tmp_path.iterdir()} == {"ocpi_cdrs", "interval_charges", "reference", "_manifest.json",
                                                    "_expected_pricing.jsonl"}  # the CDRs are priced
    manifest = json.loads((tmp_path / "_manifest.json").read_text())
    assert "ocpp" not in manifest["counts"]
    # Without OCPP the faults that need frames are not drawn.
    assert manifest["faults"]["duplicate_frame"]["count"] == 0


def test_spring_forward_window(tmp_path):
    manifest = run(GeneratorConfig(out=tmp_path, start=dt.date(2027, 3, 27), days=2, sessions_per_day=80,
                                   sources=frozenset({"reference", "interval_charges"})))
    assert manifest["dst_changes"]["Europe/London"] == ["2027-03-28T01:00:00Z"]
    assert manifest["dst_changes"]["America/Toronto"] == []


@pytest.mark.parametrize("bad", [dict(fault_rate=1.5), dict(days=0), dict(meter_interval=1),
                                 dict(sources=frozenset({"smtp"}))])
def test_invalid_configuration_is_refused(tmp_path, bad):
    with pytest.raises(ValueError):
        GeneratorConfig(out=tmp_path, **bad)


def test_unknown_source_flag_exits(tmp_path):
    with pytest.raises(SystemExit):
        parse_args(["--sources", "ocpp,fax"])


def test_small_chunks_conserve_sessions(tmp_path):
    manifest = run(GeneratorConfig(out=tmp_path, days=1, sessions_per_day=45, chunk_size=7,
                                   sources=frozenset({"platform", "eevion", "interval_charges"})))
    by_day = manifest["sessions_by_day"]
    assert sum(m["sessions"] for m in by_day.values()) == 45
    counted = sum(m["sessions"] for m in manifest["counts"]["platform_sessions"].values()) + \
        sum(m["sessions"] for m in manifest["counts"]["eevion_sessions"].values()) + \
        sum(m["charges"] for m in manifest["counts"]["interval_charges"].values())
    gb_public = 45 - counted
    assert 0 <= gb_public < 45


def test_time_formatting_helpers():
    from data.timeutil import dst_transitions, iso_ms, iso_s, iso_us, local_wall_as_utc

    t = int(dt.datetime(2026, 10, 25, 0, 30, 5, tzinfo=dt.timezone.utc).timestamp())
    assert iso_s(t) == "2026-10-25T00:30:05Z"
    assert iso_ms(t * 1000 + 7) == "2026-10-25T00:30:05.007Z"
    assert iso_us(t * 1_000_000 + 42) == "2026-10-25T00:30:05.000042Z"
    assert local_wall_as_utc(t, "Europe/Amsterdam") == "2026-10-25T02:30:05Z"
    assert dst_transitions("America/Toronto", dt.date(2026, 10, 31), dt.date(2026, 11, 2)) == [
        int(dt.datetime(2026, 11, 1, 6, 0, tzinfo=dt.timezone.utc).timestamp())]
