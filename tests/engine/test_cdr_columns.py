"""The columnar reader's numba lanes give exactly what the general (polars) lanes give: sealed tariff texts cut
from the bytes, periods encoded from Arrow buffers, instants parsed from text; and every shape they do not
vouch for goes the general way."""

from __future__ import annotations

import copy
import io
import json
import random

import numpy as np
import polars as pl
import pytest

import tariff_engine.cdr_files as cdr_files
from tariff_engine.cdr_columns import sealed_tariff_spans
from tariff_engine.cdr_files import price_cdrs_file

from .test_cdr_files import _one_cdr


def _polars_tariffs(data: bytes) -> list:
    frame = pl.read_ndjson(io.BytesIO(data), schema={"tariffs": cdr_files.CDR_SCHEMA["tariffs"]})
    return [None if texts is None else [json.loads(t) for t in texts] for texts in frame["tariffs"].to_list()]


def _span_tariffs(data: bytes, rows: int) -> list:
    frame = cdr_files._sealed_texts(data, rows)  # noqa: SLF001 - the lane under test
    return [None if texts is None else [json.loads(t) for t in texts] for texts in frame["tariffs"].to_list()]


def test_sealed_tariff_texts_equal_polars_reading_them():
    cdr = _one_cdr()
    sealed = cdr["tariffs"][0]
    lines = [
        json.dumps(cdr),
        json.dumps({**cdr, "tariffs": [sealed, {**sealed, "id": "second", "note": "a \"quoted\" ] } [ {"}]}),
        json.dumps({**cdr, "tariffs": []}),
        json.dumps({**cdr, "tariffs": None}),
        json.dumps({k: v for k, v in cdr.items() if k != "tariffs"}),
        # a nested object with its own "tariffs" key is not the CDR's
        json.dumps({**cdr, "cdr_location": {**cdr.get("cdr_location", {}), "tariffs": [{"id": "not mine"}]}}),
        "  " + json.dumps(cdr, indent=None, separators=(" , ", " : ")) + "\r",
    ]
    data = ("\n".join(lines[:3]) + "\n\n   \n" + "\n".join(lines[3:]) + "\n").encode()
    spans = sealed_tariff_spans(data)
    assert spans is not None and spans[0] == 7
    assert [len(t or []) for t in _span_tariffs(data, 7)] == [1, 2, 0, 0, 0, 1, 1]
    expected = _polars_tariffs(data)
    got = _span_tariffs(data, 7)
    assert [t or [] for t in got] == [t or [] for t in expected]
    assert got[1][1]["note"] == 'a "quoted" ] } [ {'


@pytest.mark.parametrize("line", [
    '{"tari\\u0066fs": [], "id": "1"}',                     # a key with an escape
    '{"tariffs": [], "id": "1", "tariffs": [{"id": "x"}]}',  # the key twice
    '{"tariffs": "none", "id": "1"}',                        # not an array
    '{"tariffs": ["text"], "id": "1"}',                      # an element that is not an object
    '{"tariffs": [1], "id": "1"}',
])
def test_shapes_the_scan_does_not_vouch_for_are_read_the_general_way(line):
    assert sealed_tariff_spans((line + "\n").encode()) is None


def test_the_arrow_period_lane_equals_the_polars_lane_on_odd_dimensions():
    cdr = _one_cdr()
    odd = copy.deepcopy(cdr)
    first = odd["charging_periods"][0]["dimensions"]
    first.extend([{"type": "ENERGY", "volume": 0.0000005}, {"type": "ENERGY", "volume": -0.25},
                  {"type": "MAX_POWER", "volume": 11}, {"type": "MAX_POWER", "volume": 22.0000015},
                  {"type": "STATE_OF_CHARGE", "volume": 80}, {"type": "PARKING_TIME", "volume": 0.00000013888}])
    unknown = copy.deepcopy(cdr)
    unknown["charging_periods"][0]["dimensions"].append({"type": "COLOUR", "volume": 1})
    no_volume = copy.deepcopy(cdr)
    no_volume["charging_periods"][0]["dimensions"].append({"type": "ENERGY", "volume": None})
    no_type = copy.deepcopy(cdr)
    no_type["charging_periods"][0]["dimensions"].append({"volume": 3})
    no_start = copy.deepcopy(cdr)
    del no_start["charging_periods"][1]["start_date_time"]
    null_period = copy.deepcopy(cdr)
    null_period["charging_periods"].insert(1, None)
    data = "\n".join(json.dumps(c) for c in (cdr, odd, unknown, no_volume, no_type, null_period, no_start)).encode()
    frame = cdr_files._snake_case(cdr_files._read_fast(data))  # noqa: SLF001
    arrow = cdr_files._periods_arrow(frame)  # noqa: SLF001
    general = cdr_files._periods_polars(frame)  # noqa: SLF001
    assert arrow is not None
    assert arrow[0].equals(general[0]) and np.array_equal(arrow[1], general[1])
    assert arrow[2].equals(general[2])
    assert arrow[2]["line"].to_list() == [2, 3, 4, 6]  # unknown type, missing volume, missing type, no start
    codes = price_cdrs_file(data)["error_code"].to_list()
    assert codes == [None, None, "MALFORMED_CDR", "MALFORMED_CDR", "MALFORMED_CDR", None, "MALFORMED_CDR"]


def test_a_volume_beyond_the_int64_lane_is_encoded_by_the_polars_lane():
    cdr = _one_cdr()
    cdr["charging_periods"][0]["dimensions"].append({"type": "RESERVATION_TIME", "volume": 123456789.5})
    frame = cdr_files._snake_case(cdr_files._read_fast(json.dumps(cdr).encode()))  # noqa: SLF001
    assert cdr_files._periods_arrow(frame) is None  # noqa: SLF001
    periods, period_int, _ = cdr_files._periods(frame)  # noqa: SLF001
    assert period_int[0, 4] == 123456789500 * 3600  # ms of reservation, exact


def test_instants_equal_the_polars_expression():
    rng = random.Random(5)
    texts = []
    for _ in range(3000):
        year, month, day = rng.randint(1, 2999), rng.randint(0, 13), rng.randint(0, 32)
        fraction = rng.choice(["", ".", ".5", ".123", ".1234567", ".1234567891"])
        zone = rng.choice(["", "Z", "z", "+02:00", "-05:30", "+24:00", "+0200", " "])
        second = rng.choice(["07", "59", "60", "7"])
        texts.append(f"{year:04d}-{month:02d}-{day:02d}T{rng.randint(0, 24):02d}:{rng.randint(0, 59):02d}:{second}"
                     f"{fraction}{zone}")
    texts += [None, "garbage", "2024-02-29T00:00:00", "2023-02-29T00:00:00Z", "2024-02-27 18:11:06Z"]
    series = pl.Series("t", texts, dtype=pl.String)
    general = pl.select(cdr_files._instant_ms(pl.lit(series))).to_series()  # noqa: SLF001
    fast = cdr_files._instants(series)  # noqa: SLF001
    assert fast.to_list() == general.to_list()
    assert fast.null_count() > 100 and fast.drop_nulls().len() > 1000  # both kinds were drawn


@pytest.mark.parametrize("text", [
    b'{"id": "1", "tariffs": [{"id": "x\\\n", "a": 1}]}\n',      # a backslash, then the line ends
    b'{"id": "1", "tariffs": [{"id": "unterminated}]}\n{"id": "2"}\n',  # a string runs into the next line
    b'{"id": "1", "tariffs": [{"id": "x", "a": [1, 2}\n{"id": "2"}]}\n',  # a bracket closes only on the next line
    b'{"id": "1", "tariffs": [{"id": "x"',                          # the text ends inside a tariff
])
def test_the_scan_never_reads_a_tariff_across_a_line_end(text):
    assert sealed_tariff_spans(text) is None


def test_escaped_backslashes_and_quotes_end_strings_where_json_does():
    line = b'{"id": "1", "tariffs": [{"id": "a\\\\", "b": "\\"}]\\"", "c": [{"d": "\\\\\\""}]}], "x": "y"}\n'
    rows, element_row, offsets, element_bytes = sealed_tariff_spans(line)
    assert rows == 1 and list(element_row) == [0]
    text = bytes(element_bytes[offsets[0]:offsets[1]])
    assert json.loads(text) == json.loads(line)["tariffs"][0] == {"id": "a\\", "b": '"}]"', "c": [{"d": '\\"'}]}
