"""price-cdrs: NDJSON CDR files priced columnar give, line for line, what `price_cdrs` gives from parsed JSON,
account for every line, and read gzip; the CLI writes Parquet and NDJSON."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path

import polars as pl
import pytest

from tariff_engine.cdr_files import CdrFileError, price_cdrs_file
from tariff_engine.cli import main
from tariff_engine.cdr_json import price_cdrs

DOORS = Path(__file__).resolve().parents[1] / "fixtures" / "engine_doors"
CDRS = DOORS / "cdrs.jsonl"
TOTALS = ("total_cost", "total_energy_cost", "total_time_cost", "total_parking_cost", "total_fixed_cost",
          "total_reservation_cost")


def lines() -> list[str]:
    return [line for line in CDRS.read_text().split("\n") if line.strip()]


@pytest.mark.parametrize("timezone", [None, "America/Toronto"])
def test_every_line_equals_price_cdrs_on_the_parsed_cdr(timezone):
    frame = price_cdrs_file(CDRS, timezone=timezone)
    texts = lines()
    assert frame.height == len(texts) == 65  # rows in = rows out
    assert frame["line"].to_list() == list(range(65))
    compared = 0
    for row, text in zip(frame.iter_rows(named=True), texts):
        try:
            cdr = json.loads(text)
        except json.JSONDecodeError:
            assert row["error_code"] == "MALFORMED_CDR" and row["error"].startswith(f"line {row['line']}:")
            continue
        [expected] = price_cdrs([cdr], [], timezone=timezone)
        assert row["cdr_id"] == cdr["id"]
        if "error" in expected:
            assert row["error_code"] == expected["error"]["code"], row
            assert row["total_cost_excl"] is None
            continue
        assert row["error_code"] is None, row
        for name in TOTALS:
            assert {"excl_vat": str(row[f"{name}_excl"]), "incl_vat": str(row[f"{name}_incl"])} == expected[name]
        compared += 1
    counts = dict(frame["error_code"].value_counts().iter_rows())
    if timezone is None:  # Canada spans several zones: the CA CDRs need one given
        assert counts == {None: 33, "TIMEZONE_UNRESOLVED": 29, "UNKNOWN_TARIFF": 2, "MALFORMED_CDR": 1}
    else:
        assert counts == {None: 62, "UNKNOWN_TARIFF": 2, "MALFORMED_CDR": 1} and compared == 62


def test_gzip_and_bytes_give_the_same_frame(tmp_path):
    plain = price_cdrs_file(CDRS, timezone="America/Toronto")
    packed = tmp_path / "cdrs.jsonl.gz"
    packed.write_bytes(gzip.compress(CDRS.read_bytes()))
    assert price_cdrs_file(packed, timezone="America/Toronto").equals(plain)
    assert price_cdrs_file(CDRS.read_bytes(), timezone="America/Toronto").equals(plain)
    with pytest.raises(CdrFileError, match="not found"):
        price_cdrs_file(tmp_path / "missing.jsonl")


def _one_cdr() -> dict:
    return json.loads(next(line for line in lines() if '"NL-GRX-DC"' in line and "LEGACY" not in line))


def test_bad_records_get_a_row_and_a_reason(tmp_path):
    good = _one_cdr()
    unknown_dimension = copy.deepcopy(good)
    unknown_dimension["charging_periods"][0]["dimensions"].append({"type": "COLOUR", "volume": 1})
    no_end = copy.deepcopy(good)
    del no_end["end_date_time"]
    bad_volume = copy.deepcopy(good)
    bad_volume["charging_periods"][0]["dimensions"][0]["volume"] = "lots"
    text = "\n".join([json.dumps(good), "[1, 2]", json.dumps(unknown_dimension), "", json.dumps(no_end),
                      json.dumps(bad_volume), "{truncated"]) + "\n"
    frame = price_cdrs_file(text.encode())
    assert frame.height == 6  # the blank line is not a record
    assert frame["error_code"].to_list() == [None, "MALFORMED_CDR", "MALFORMED_CDR", "MALFORMED_CDR", "MALFORMED_CDR",
                                             "MALFORMED_CDR"]
    reasons = frame["error"].to_list()
    assert "COLOUR" in reasons[2] and "required" in reasons[3] and "lots" in reasons[4]
    assert frame["total_cost_excl"].to_list()[0] is not None


def test_tariffs_folder_first_then_sealed(tmp_path):
    cdr = _one_cdr()
    sealed = cdr.pop("tariffs")[0]
    folder = tmp_path / "tariffs"
    folder.mkdir()
    cheaper = {**sealed, "elements": [{"price_components": [{"type": "ENERGY", "price": 0.10, "step_size": 1}]}]}
    (folder / "t.json").write_text(json.dumps(cheaper))
    energy = sum(d["volume"] for p in cdr["charging_periods"] for d in p["dimensions"] if d["type"] == "ENERGY")
    data = (json.dumps(cdr) + "\n").encode()
    assert price_cdrs_file(data)["error_code"].to_list() == ["UNKNOWN_TARIFF"]
    [row] = price_cdrs_file(data, tariffs=folder).iter_rows(named=True)
    assert row["error_code"] is None and str(row["total_cost_excl"]) == f"{energy * 0.10:.4f}"
    # sealed and given: the given one wins (re-pricing under a folder of current tariffs)
    both = (json.dumps({**cdr, "tariffs": [sealed]}) + "\n").encode()
    assert price_cdrs_file(both, tariffs=folder)["total_cost_excl"].to_list() == [row["total_cost_excl"]]


def test_periods_out_of_order_are_repaired_with_a_warning():
    cdr = _one_cdr()
    cdr["charging_periods"].reverse()
    [row] = price_cdrs_file((json.dumps(cdr) + "\n").encode()).iter_rows(named=True)
    [expected] = price_cdrs([cdr], [])
    assert row["pricing_warnings"] == "PERIODS_OUT_OF_ORDER" and expected["warnings"] == ["PERIODS_OUT_OF_ORDER"]
    assert str(row["total_cost_incl"]) == expected["total_cost"]["incl_vat"]


def test_cli_writes_parquet_and_ndjson(tmp_path, capsys):
    parquet, ndjson = tmp_path / "out.parquet", tmp_path / "out.jsonl"
    assert main(["price-cdrs", "--cdrs", str(CDRS), "--timezone", "America/Toronto", "--out", str(parquet)]) == 0
    assert "65 CDRs: 62 priced" in capsys.readouterr().err
    assert main(["price-cdrs", "--cdrs", str(CDRS), "--timezone", "America/Toronto", "--out", str(ndjson)]) == 0
    frame = pl.read_parquet(parquet)
    rows = [json.loads(line) for line in ndjson.read_text().split("\n") if line]
    assert frame.height == len(rows) == 65
    assert [r["total_cost_incl"] for r in rows] == [None if v is None else str(v) for v in frame["total_cost_incl"]]
    assert main(["price-cdrs", "--cdrs", str(CDRS), "--out", str(tmp_path / "out.csv")]) == 2
    assert "--out must end in" in capsys.readouterr().err


def _camel(value):
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            head, *rest = key.split("_")
            out[head + "".join(part.title() for part in rest)] = item if key == "tariffs" else _camel(item)
        return out
    return [_camel(item) for item in value] if isinstance(value, list) else value


def test_camel_case_cdrs_price_like_snake_case_ones():
    cdr = _one_cdr()
    frame = price_cdrs_file((json.dumps(cdr) + "\n" + json.dumps(_camel(cdr)) + "\n").encode())
    snake, camel = frame.iter_rows(named=True)
    assert camel["error_code"] is None and camel["session_id"] == snake["session_id"]
    assert {k: v for k, v in camel.items() if k != "line"} == {k: v for k, v in snake.items() if k != "line"}
    assert str(camel["total_cost_incl"]) == price_cdrs([_camel(cdr)], [])[0]["total_cost"]["incl_vat"]


def test_the_pyarrow_lane_equals_the_polars_lane(monkeypatch):
    # the good lines only: pyarrow reads the whole file; forcing the polars lane must give the same frame
    import tariff_engine.cdr_files as cdr_files

    good = "\n".join(text for text in lines() if text.lstrip().startswith("{") and _parses(text)).encode()
    assert cdr_files._read_fast(good) is not None  # noqa: SLF001 - the lane under test
    fast = price_cdrs_file(good, timezone="America/Toronto")
    monkeypatch.setattr(cdr_files, "_read_fast", lambda data: None)
    slow = price_cdrs_file(good, timezone="America/Toronto")
    assert fast.height == 64 and fast.equals(slow)


def test_a_volume_beyond_twelve_decimals_falls_back_and_is_priced_like_price_cdrs():
    import tariff_engine.cdr_files as cdr_files

    cdr = json.loads(next(text for text in lines() if '"ENERGY"' in text and _parses(text)))
    for period in cdr["charging_periods"]:
        for dimension in period["dimensions"]:
            if dimension["type"] == "ENERGY":
                dimension["volume"] = float(dimension["volume"]) + 1e-13  # 13+ decimals: pyarrow refuses
    text = json.dumps(cdr).encode()
    assert cdr_files._read_fast(text) is None  # noqa: SLF001
    [row] = price_cdrs_file(text, timezone="America/Toronto").iter_rows(named=True)
    [expected] = price_cdrs([cdr], [], timezone="America/Toronto")
    assert {"excl_vat": str(row["total_cost_excl"]), "incl_vat": str(row["total_cost_incl"])} == expected["total_cost"]


def _parses(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except json.JSONDecodeError:
        return False
