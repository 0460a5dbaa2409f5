"""Generator flags for big days: `--ocpp-share` and `--compress gzip|zstd` (off by default)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import json

import pytest
import zstandard

from data.config import GeneratorConfig
from data.generate import parse_args, run
from tests.generator.conftest import tree_digest

BASE = GeneratorConfig(seed=13, start=dt.date(2026, 10, 24), days=1, sessions_per_day=240, chunk_size=100)


def _gb_share(manifest: dict) -> float:
    """Sessions of the GB operators (Voltline and the home chargers: the OCPP ones) over all delivered."""
    by_currency = manifest["totals"]["sessions_by_currency"]
    return by_currency.get("GBP", 0) / sum(by_currency.values())


def test_ocpp_share_moves_sessions_off_ocpp(tmp_path):
    natural = run(dataclasses.replace(BASE, out=tmp_path / "natural"))
    small = run(dataclasses.replace(BASE, out=tmp_path / "small", ocpp_share=0.05))
    assert 0.3 < _gb_share(natural) < 0.6  # Voltline 35 % + home 15 % of all (cancelled ones not counted)
    assert _gb_share(small) < 0.12
    assert small["ocpp_share"] == 0.05 and "ocpp_share" not in natural  # default manifest unchanged
    frames = lambda root: sum(len(p.read_bytes().split(b"\n")) - 1 for p in (root / "ocpp").rglob("*.jsonl"))
    assert frames(tmp_path / "small") * 4 < frames(tmp_path / "natural")
    assert sum(small["totals"]["sessions_by_currency"].values()) == sum(natural["totals"]["sessions_by_currency"].values())


@pytest.mark.parametrize("codec, suffix", [("gzip", ".gz"), ("zstd", ".zst")])
def test_compressed_landing_files_hold_the_same_lines(tmp_path, codec, suffix):
    plain_root, packed_root = tmp_path / "plain", tmp_path / "packed"
    run(dataclasses.replace(BASE, out=plain_root, chunk_size=60))  # several flushes: several members/frames
    manifest = run(dataclasses.replace(BASE, out=packed_root, chunk_size=60, compress=codec))
    assert manifest["compress"] == codec
    # landing files only: the generator's own side files (`_expected_pricing.jsonl`, like `_manifest.json`)
    # are not landing data and stay plain
    landed = lambda root: [p for p in root.rglob("*.jsonl") if not p.name.startswith("_")]
    plain = sorted(p.relative_to(plain_root) for p in landed(plain_root))
    assert plain and not landed(packed_root)
    for rel in plain:
        packed = (packed_root / rel).with_name(rel.name + suffix)
        data = packed.read_bytes()
        text = gzip.decompress(data) if codec == "gzip" else zstandard.ZstdDecompressor().stream_reader(data).read()
        assert text == (plain_root / rel).read_bytes(), rel
    # everything that is not JSONL (pages, documents) is written exactly as without compression
    others = lambda root: {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
                           if p.is_file() and ".jsonl" not in p.name and p.name != "_manifest.json"}
    assert others(packed_root) == others(plain_root)
    # and a second run gives the same bytes (gzip without names or times)
    digest = tree_digest(packed_root)
    run(dataclasses.replace(BASE, out=packed_root, chunk_size=60, compress=codec))
    assert tree_digest(packed_root) == digest


def test_flags_parse_and_are_checked():
    cfg = parse_args(["--ocpp-share", "0.02", "--compress", "zstd", "--sessions-per-day", "1000000"])
    assert (cfg.ocpp_share, cfg.compress, cfg.sessions_per_day) == (0.02, "zstd", 1_000_000)
    assert parse_args([]).compress is None and parse_args([]).ocpp_share is None
    with pytest.raises(ValueError, match="ocpp_share"):
        GeneratorConfig(ocpp_share=1.5)
    with pytest.raises(ValueError, match="compress"):
        GeneratorConfig(compress="brotli")
    with pytest.raises(SystemExit):
        parse_args(["--compress", "brotli"])


@pytest.mark.parametrize("codec", [None, "gzip", "zstd"])
def test_sorted_runs_merge_in_batches_with_and_without_compression(tmp_path, monkeypatch, codec):
    """OCPP logs are sorted through spilled runs (compressed when compressing); more runs than can be opened at
    once are merged in batches first. The result is the same lines in key order."""
    from data import landing as landing_module

    monkeypatch.setattr(landing_module, "MAX_OPEN_RUNS", 2)
    landing = landing_module.Landing(tmp_path, compress=codec)
    expected = []
    for flush in range(5):
        for k in range(4):
            key = f"{(k * 7 + flush * 3) % 20:03d}"
            landing.append_sorted("ocpp/2026-10-24/00/csms-x.jsonl", key, f'{{"k":"{key}","f":{flush}}}')
            expected.append((key, f'{{"k":"{key}","f":{flush}}}'))
        landing.flush()
    landing.finalize()
    name = "ocpp/2026-10-24/00/csms-x.jsonl" + {None: "", "gzip": ".gz", "zstd": ".zst"}[codec]
    data = (tmp_path / name).read_bytes()
    if codec == "gzip":
        data = gzip.decompress(data)
    elif codec == "zstd":
        data = zstandard.ZstdDecompressor().stream_reader(data).read()
    assert data.decode().split("\n")[:-1] == [line for _, line in sorted(expected)]
    assert not (tmp_path / ".sort-runs").exists()
