"""The fast paths return exactly what the slow paths returned.

- `encode_session_objects` == `compile.encode_sessions` (array for array);
- `price_sessions` (column-wise results) == the object assembly it replaced (`decode_outcome` + `assemble`);
- `price_cdrs` (columnar scan + vectorised JSON) == the same call with every CDR deferred to the object path;
- the vectorised exact scaling and the text renderers == their Decimal formulas, at the .5 boundaries too.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tariff_engine import batch as batch_api
from tariff_engine import cdr_json, frames
from tariff_engine.compile import ERROR_INDEX, S_ERROR
from tariff_engine.adapters.ocpi import tariff_to_json
from tariff_engine.cdr_scan import ScannedCdrs, scan_cdrs
from tariff_engine.compile import encode_sessions, policy_codes
from tariff_engine.encode import (
    ENERGY_FACTOR, HOURS_FACTOR, encode_session_objects, micro_exact, scale_half_up, volume_exact,
)
from tariff_engine.kernels import price_batch
from tariff_engine.model import PricingResult, Session, SessionPeriod, Tariff
from tariff_engine.outcome import assemble, hours
from tariff_engine.policy import DEFAULT_POLICY, PricingPolicy
from tariff_engine.render import decimal_text, energy_text, hours_text

from .cases import cases
from .conftest import EXAMPLES
from .test_properties import policies, sessions, tariffs


def session_to_cdr(session: Session, tariff_id: str | None, number: int, camel: bool = False) -> dict:
    """A `Session` as a parsed OCPI 2.2.1 CDR body (volumes as JSON floats, as `json.loads` gives them)."""
    def iso(moment: datetime) -> str:
        return moment.isoformat().replace("+00:00", "Z")

    def key(name: str) -> str:
        if not camel:
            return name
        head, *rest = name.split("_")
        return head + "".join(part.title() for part in rest)

    periods = []
    for period in session.periods:
        dimensions = [{"type": kind, "volume": float(value)} for kind, value in (
            ("ENERGY", period.energy_kwh), ("TIME", period.time_h), ("PARKING_TIME", period.parking_h),
            ("RESERVATION_TIME", period.reservation_h)) if value]
        dimensions += [{"type": kind, "volume": float(value)} for kind, value in (
            ("MIN_CURRENT", period.min_current), ("MAX_CURRENT", period.max_current),
            ("MIN_POWER", period.min_power), ("MAX_POWER", period.max_power)) if value is not None]
        entry = {key("start_date_time"): iso(period.start), "dimensions": dimensions}
        if tariff_id is not None:
            entry[key("tariff_id")] = tariff_id
        periods.append(entry)
    return {key("country_code"): "DE", key("party_id"): "ABC", "id": f"cdr-{number}",
            key("start_date_time"): iso(session.start), key("end_date_time"): iso(session.end),
            key("cdr_location"): {key("time_zone"): session.timezone, "country": "DEU"}, "currency": "EUR",
            key("charging_periods"): periods}


def original_price_sessions(tariffs, sessions, tariff_indexes=None, policy=DEFAULT_POLICY, breakdown=True):
    """`price_sessions` as it was before the fast paths: object encoding and per-session assembly."""
    if tariff_indexes is None:
        tariff_indexes = [0] * len(sessions)
    compiled, remap, errors = batch_api._compile_each(tariffs, policy)
    kernel_indexes = [remap[i] if i >= 0 else -1 for i in tariff_indexes]
    batch = encode_sessions(list(sessions), [max(i, 0) for i in kernel_indexes])
    for row, original, kernel_index in zip(batch.session_int, tariff_indexes, kernel_indexes):
        if original < 0:
            row[S_ERROR] = ERROR_INDEX["UNKNOWN_TARIFF"]
        elif kernel_index < 0:
            row[S_ERROR] = ERROR_INDEX["TARIFF_NOT_COMPILABLE"]
    output = price_batch(compiled, batch, policy_codes(policy), want_rows=breakdown)
    results = []
    for index, session in enumerate(sessions):
        original = tariff_indexes[index]
        tariff = tariffs[original] if original >= 0 else batch_api._EMPTY_TARIFF
        outcome = batch_api.decode_outcome(output, batch, index, 1 + len(tariff.taxes))
        if outcome.error_code == "TARIFF_NOT_COMPILABLE" and original in errors:
            outcome = batch_api._with_error(outcome, *errors[original])
        results.append(assemble(session.id, tariff, outcome, policy))
    return results


def slow_price_cdrs(monkeypatch, cdrs, tariffs, **options):
    """`price_cdrs` with the scanner deferring every CDR and the original object path behind it."""
    with monkeypatch.context() as patch:
        patch.setattr(cdr_json, "scan_cdrs", lambda documents, zone=None: ScannedCdrs(deferred=list(range(len(documents)))))
        patch.setattr(cdr_json, "price_sessions", original_price_sessions)
        return cdr_json.price_cdrs(cdrs, tariffs, **options)


def _same_results(fast: list[PricingResult], slow: list[PricingResult]) -> None:
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow):
        assert a == b and repr(a) == repr(b) and hash(a.total_cost) == hash(b.total_cost)
        assert dataclasses.replace(a, session_id="x") == dataclasses.replace(b, session_id="x")
        for name in ("total_cost", "total_energy_cost", "total_time_cost", "total_parking_cost", "total_fixed_cost",
                     "total_reservation_cost"):  # same digits and exponents, not only equal values
            assert str(getattr(a, name)) == str(getattr(b, name))
        assert (str(a.total_energy), str(a.total_time), str(a.total_parking_time)) == \
               (str(b.total_energy), str(b.total_time), str(b.total_parking_time))


def _spec_batch():
    examples = cases()
    return [c[1] for c in examples], [c[2] for c in examples], [c[3] for c in examples]


# ---- encoding ------------------------------------------------------------------------------------------------


def test_object_encoding_equals_the_slow_encoder_on_spec_examples():
    _, batch_sessions, _ = _spec_batch()
    indexes = list(range(len(batch_sessions)))
    slow, fast = encode_sessions(batch_sessions, indexes), encode_session_objects(batch_sessions, indexes)
    assert fast.ids == slow.ids and fast.zones.names == slow.zones.names
    for name in ("session_int", "period_offsets", "period_int"):
        assert np.array_equal(getattr(fast, name), getattr(slow, name)), name
    assert fast.period_int.shape == (sum(len(s.periods) for s in batch_sessions), 10)


def test_object_encoding_equals_the_slow_encoder_on_long_decimals():
    # volumes with more digits than the Decimal context keeps (40), near .5 boundaries after scaling
    rng = np.random.default_rng(9)
    start = datetime(2024, 3, 31, tzinfo=timezone.utc)
    batch = []
    for number in range(60):
        periods = []
        for k in range(4):
            digits = "".join(rng.choice(list("0123456789"), 33))
            periods.append(SessionPeriod(
                start=start + timedelta(minutes=10 * k),
                energy_kwh=Decimal(f"0.{int(rng.integers(0, 10**6)):06d}5{digits}") * (1 if k % 2 else -1) ** 0,
                time_h=Decimal(f"0.000{int(rng.integers(0, 10**3)):03d}{digits}"),
                parking_h=Decimal(int(rng.integers(0, 10**9))) / 3_600_000 / 7,
                max_power=Decimal(f"11.{int(rng.integers(0, 10**6)):06d}5{digits}"),
            ))
        batch.append(Session(f"s{number}", start, start + timedelta(hours=2), "Europe/Berlin", tuple(periods)))
    # 30 digits whose product with 3.6e6 rounds to x.5 ms only when not rounded to 28 digits first
    for number, text in enumerate(("1.45999458333333333333333333349", "1.13600069444444444444444444449")):
        period = SessionPeriod(start=start, time_h=Decimal(text), parking_h=Decimal(text) / 2)
        batch.append(Session(f"long{number}", start, start + timedelta(hours=3), "UTC", (period,)))
    indexes = [0] * len(batch)
    slow, fast = encode_sessions(batch, indexes), encode_session_objects(batch, indexes)
    assert fast.period_int[-1, 2] == batch[-1].periods[0].time_ms == 4_089_603  # 4089602.5 (+1.6e-22) ms: up
    assert np.array_equal(fast.period_int, slow.period_int)
    assert np.array_equal(fast.session_int, slow.session_int)


@pytest.mark.parametrize("factor, exact", [(ENERGY_FACTOR, volume_exact), (HOURS_FACTOR, volume_exact),
                                           (1_000_000, micro_exact)])
def test_vectorised_scaling_is_exact_at_half_boundaries(factor, exact):
    # values whose scaled value is exactly x.5 (half-up must round away from zero), just below and above it,
    # huge values and negative ones: floats, ints, Decimals
    values = [0.0000005, 0.0000015, 2.5e-6, 0.0000004999, 0.0000005001, 1 / 7200000, 1 / 7200000 * 3, -0.0000005,
              123456.0000005, 2.0**40, 10**11, 7, -3, Decimal("0.0000025"), Decimal("1.23456749999999999999"),
              Decimal(1) / 3, 0.1, 0.2, 0.3, 1e-9, 5e-7 * 3]
    expected = [exact(v if isinstance(v, Decimal) else Decimal(str(v)), factor) for v in values]
    assert scale_half_up(values, factor, exact).tolist() == expected
    assert volume_exact(Decimal("0.0000005"), ENERGY_FACTOR) == 1 and volume_exact(Decimal("-0.0000005"), ENERGY_FACTOR) == -1


def test_random_floats_scale_like_decimal():
    rng = np.random.default_rng(3)
    # random decimals with 7-9 places (many exact .5 cases at 7 places) read back as JSON floats
    values = [float(f"{int(v)}e-{places}") for v, places in zip(rng.integers(0, 10**9, 4000), rng.integers(7, 10, 4000))]
    for factor in (ENERGY_FACTOR, HOURS_FACTOR):
        assert scale_half_up(values, factor, volume_exact).tolist() == \
               [volume_exact(Decimal(str(v)), factor) for v in values]


# ---- renderers -----------------------------------------------------------------------------------------------


def test_text_renderers_equal_their_decimal_formulas():
    rng = np.random.default_rng(5)
    values = [0, 1, 9, 10, 1_000_000, 10_000_000, 15_342_000, 123_000_000, 999_999, 5_000_000_000]
    values += rng.integers(0, 10**12, 2000).tolist() + (rng.integers(0, 10**6, 500) * 10**6).tolist()
    for value in values:
        assert energy_text(value) == str(Decimal(value).scaleb(-6).normalize() if value else Decimal(0))
        assert hours_text(value) == str(hours(value).quantize(Decimal("0.0001")))
        for decimals in range(0, 10):
            assert decimal_text(value, decimals) == str(Decimal(value).scaleb(-decimals))
    # ms whose hours are exactly x.xxxx50 and x.xxxx49999…: half-up to 6 places, then half-even to 4
    for ms in (180, 540, 900, 1260, 3_600_180, 179, 181):
        assert hours_text(ms) == str(hours(ms).quantize(Decimal("0.0001")))
    assert decimal_text(-5, 4) == "-0.0005" and decimal_text(0, 9) == "0E-9"


# ---- price_sessions ------------------------------------------------------------------------------------------


def test_price_sessions_equals_the_object_assembly_on_spec_examples():
    batch_tariffs, batch_sessions, batch_policies = _spec_batch()
    for policy in set(batch_policies):
        chosen = [i for i, p in enumerate(batch_policies) if p == policy]
        subset = [batch_tariffs[i] for i in chosen], [batch_sessions[i] for i in chosen]
        indexes = list(range(len(chosen)))
        for breakdown in (False, True):
            _same_results(batch_api.price_sessions(*subset, indexes, policy, breakdown=breakdown),
                          original_price_sessions(*subset, indexes, policy, breakdown=breakdown))


def test_price_sessions_errors_and_missing_tariffs_equal_the_object_assembly():
    batch_tariffs, batch_sessions, _ = _spec_batch()
    bad_currency = Tariff(**{**vars(batch_tariffs[0]), "id": "bad", "currency": "XXQ"})
    chosen = batch_tariffs[:4] + [bad_currency]
    indexes = [0, 1, -1, 4, 2, 3]
    subset = [batch_sessions[i] for i in range(6)]
    fast = batch_api.price_sessions(chosen, subset, indexes, breakdown=False)
    _same_results(fast, original_price_sessions(chosen, subset, indexes, breakdown=False))
    assert [r.error_code for r in fast][2:4] == ["UNKNOWN_TARIFF", "UNKNOWN_CURRENCY"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batch=st.lists(st.tuples(tariffs(), sessions()), min_size=1, max_size=6), policy=policies)
def test_price_sessions_fast_path_equals_object_assembly_on_random_sessions(batch, policy):
    batch_tariffs = [t for t, _ in batch]
    batch_sessions = [s for _, s in batch]
    indexes = list(range(len(batch)))
    _same_results(batch_api.price_sessions(batch_tariffs, batch_sessions, indexes, policy, breakdown=False),
                  original_price_sessions(batch_tariffs, batch_sessions, indexes, policy, breakdown=False))


# ---- price_cdrs ----------------------------------------------------------------------------------------------


def _spec_cdrs(camel: bool = False) -> tuple[list[dict], list[dict]]:
    batch_tariffs, batch_sessions, batch_policies = _spec_batch()
    documents, cdrs = [], []
    for number, (tariff, session, policy) in enumerate(zip(batch_tariffs, batch_sessions, batch_policies)):
        if policy != DEFAULT_POLICY or tariff.electricity_rate_required:
            continue  # CDRs carry no electricity rate
        document = tariff_to_json(tariff)
        document["id"] = f"t{number}"
        documents.append(document)
        cdrs.append(session_to_cdr(session, f"t{number}", number, camel=camel))
    return documents, cdrs


def test_price_cdrs_fast_path_equals_object_path_on_spec_examples(monkeypatch):
    documents, cdrs = _spec_cdrs()
    scanned = scan_cdrs(cdrs)
    assert scanned.deferred == [] and len(scanned.positions) == len(cdrs) > 30
    fast = cdr_json.price_cdrs(cdrs, documents)
    slow = slow_price_cdrs(monkeypatch, cdrs, documents)
    assert fast == slow
    assert json.dumps(fast) == json.dumps(slow)  # same key order and texts
    assert len(fast) == len(cdrs) and all("error" not in r for r in fast)
    assert any("taxes" in r["total_cost"] for r in fast)  # named-tax tariffs went through the slow assembly


def test_price_cdrs_camel_case_and_own_tariffs_take_the_fast_path(monkeypatch):
    documents, cdrs = _spec_cdrs(camel=True)
    scanned = scan_cdrs(cdrs)
    assert scanned.deferred == [] and scanned.session_ids[0].startswith("ocpi:DE-ABC:cdr-")
    assert cdr_json.price_cdrs(cdrs, documents) == slow_price_cdrs(monkeypatch, cdrs, documents)
    # each CDR carrying its own tariff, none given
    own = [dict(cdr, tariffs=[{"id": "x"}, document]) for cdr, document in zip(cdrs, documents)]
    fast = cdr_json.price_cdrs(own, [])
    assert fast == slow_price_cdrs(monkeypatch, own, [])
    assert fast == cdr_json.price_cdrs(cdrs, documents)


def test_irregular_cdrs_are_deferred_and_priced_exactly_as_before(monkeypatch):
    example = json.loads((EXAMPLES / "2.2.1" / "cdr_example.json").read_text())
    variants = [copy.deepcopy(example) for _ in range(14)]
    variants[1]["charging_periods"][0]["dimensions"][0]["volume"] = "1.973"  # string volume: still fast
    variants[2]["charging_periods"][0]["dimensions"][0]["volume"] = "lots"
    variants[3]["charging_periods"][0]["dimensions"].append({"type": "TIME", "volume": 0.5})  # repeated type
    variants[4]["charging_periods"][0]["dimensions"][0]["volume"] = float("nan")
    variants[5]["charging_periods"][0]["bogus"] = 1
    variants[6]["cdr_location"] = {"country": "USA"}
    variants[7]["cdr_location"] = {"country": "BEL"}  # zone from the country: the adapter's rule
    variants[8]["tariffs"] = []
    variants[9]["charging_periods"].append(dict(variants[9]["charging_periods"][0], tariff_id="other"))
    variants[10]["charging_periods"][0]["dimensions"].append({"type": "MAX_POWER", "volume": 11, "Type": "X"})
    variants[11]["StartDateTime"] = "2015-06-29T21:00:00Z"  # two spellings of one key: the last one wins
    variants[12]["charging_periods"][0]["dimensions"].append({"type": "FLAT", "volume": 1})
    variants[13]["end_date_time"] = "2015-06-29T21:00:00Z"  # ends before it starts: a kernel error
    batch = variants + ["not an object", {"id": "no-periods", "cdr_location": {"time_zone": "Europe/Brussels"}}]
    scanned = scan_cdrs(batch)
    assert scanned.deferred == [2, 3, 4, 5, 6, 9, 10, 14, 15]
    fast = cdr_json.price_cdrs(batch, [])
    slow = slow_price_cdrs(monkeypatch, batch, [])
    assert fast == slow and len(fast) == len(batch)
    codes = [r.get("error", {}).get("code") for r in fast]
    assert codes == [None, None, "MALFORMED_CDR", None, "MALFORMED_CDR", "MALFORMED_CDR", "TIMEZONE_UNRESOLVED",
                     None, "UNKNOWN_TARIFF", "MULTIPLE_TARIFFS", "MALFORMED_CDR", None, None,
                     "INVALID_SESSION_TIMES", "MALFORMED_CDR", "MALFORMED_CDR"]
    assert fast[3]["total_time"] == "2.4730"  # the repeated TIME volumes summed by the object path
    assert fast[1]["total_cost"] == {"excl_vat": "4.0000", "incl_vat": "4.4000"}


def test_price_cdrs_explicit_zone_policy_and_bad_tariffs_match(monkeypatch):
    documents, cdrs = _spec_cdrs()
    cents = PricingPolicy(rounding=DEFAULT_POLICY.rounding.__class__(decimals=None))
    broken = dict(documents[0], currency="XXQ")
    for arguments in ((cdrs, documents, {"timezone": "America/New_York"}), (cdrs, documents, {"policy": cents}),
                      (cdrs[:3], [broken], {}), (cdrs[:3], documents[:1], {})):
        cdr_list, tariff_list, options = arguments
        assert cdr_json.price_cdrs(cdr_list, tariff_list, **options) == \
               slow_price_cdrs(monkeypatch, cdr_list, tariff_list, **options)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                 HealthCheck.function_scoped_fixture])
@given(batch=st.lists(st.tuples(tariffs(), sessions()), min_size=1, max_size=6), policy=policies)
def test_price_cdrs_fast_path_equals_object_path_on_random_sessions(monkeypatch, batch, policy):
    documents, cdrs = [], []
    for number, (tariff, session) in enumerate(batch):
        if tariff.electricity_rate_required:
            continue
        document = tariff_to_json(tariff)
        document["id"] = f"t{number}"
        documents.append(document)
        cdrs.append(session_to_cdr(session, f"t{number}", number))
    assert scan_cdrs(cdrs).deferred == []  # every generated CDR takes the fast path
    assert cdr_json.price_cdrs(cdrs, documents, policy=policy) == slow_price_cdrs(monkeypatch, cdrs, documents, policy=policy)


def test_half_boundary_volumes_in_cdrs(monkeypatch):
    example = json.loads((EXAMPLES / "2.2.1" / "cdr_example.json").read_text())
    batch = []
    for volume in (0.0000005, 1.0000005, 2.5e-7, 1 / 7200000, 0.0001385, 1.97305):
        cdr = copy.deepcopy(example)
        cdr["charging_periods"][0]["dimensions"] = [{"type": "ENERGY", "volume": volume}, {"type": "TIME", "volume": volume}]
        batch.append(cdr)
    fast = cdr_json.price_cdrs(batch, [])
    assert fast == slow_price_cdrs(monkeypatch, batch, [])
    assert [r["total_energy"] for r in fast[:2]] == ["0.000001", "1.000001"]  # half-up at the mWh
    assert Decimal("0.0000005").scaleb(6).quantize(Decimal(1), rounding=ROUND_HALF_UP) == 1


# ---- price_frame ---------------------------------------------------------------------------------------------


def _frames(count: int, seed: int):
    """Generated sessions (mixed tariffs and zones) as the frames `price_frame` takes, periods grouped in
    session order with increasing starts, plus the same sessions as model objects."""
    from bench.bench_engine import ZONES, batch_to_sessions, bench_tariffs, frames_from_batch, generate_batch

    tariffs = bench_tariffs()
    batch, raw = generate_batch(count, seed=seed)
    session_frame, period_frame = frames_from_batch(batch, raw, [t.id for t in tariffs])
    objects, indexes = batch_to_sessions(batch, count)
    assert ZONES
    return tariffs, session_frame, period_frame, objects, indexes


def test_price_frame_fast_grouping_and_chunks_equal_the_sorted_path(monkeypatch):
    tariffs, session_frame, period_frame, _, _ = _frames(300, seed=21)
    by_id = {t.id: t for t in tariffs}
    ordered = frames.price_frame(session_frame, period_frame, by_id)
    shuffled = period_frame.sample(fraction=1.0, shuffle=True, seed=4)  # forces the join + sort
    assert not shuffled["session_id"].equals(period_frame["session_id"])
    from_shuffled = frames.price_frame(session_frame, shuffled, by_id)
    # same amounts; sessions whose periods came out of chronological order say so
    assert ordered.drop("pricing_warnings").equals(from_shuffled.drop("pricing_warnings"))
    assert ordered["pricing_warnings"].null_count() == 300
    assert set(from_shuffled["pricing_warnings"].drop_nulls()) == {"PERIODS_OUT_OF_ORDER"}
    assert from_shuffled["pricing_warnings"].null_count() < 300
    with monkeypatch.context() as patch:
        patch.setattr(frames, "_FRAME_CHUNK_SESSIONS", 7)  # 43 chunks, one buffer
        assert ordered.equals(frames.price_frame(session_frame, period_frame, by_id))
    assert ordered.height == 300 and ordered["error_code"].null_count() == 300


def test_price_frame_equals_price_sessions_on_generated_sessions():
    tariffs, session_frame, period_frame, objects, indexes = _frames(200, seed=22)
    frame = frames.price_frame(session_frame, period_frame, {t.id: t for t in tariffs})
    results = batch_api.price_sessions(tariffs, objects, indexes, breakdown=False)
    assert frame["total_cost_excl"].to_list() == [r.total_cost.excl_vat for r in results]
    assert frame["total_cost_incl"].to_list() == [r.total_cost.incl_vat for r in results]
    assert frame["total_parking_cost_incl"].to_list() == [r.total_parking_cost.incl_vat for r in results]


def test_price_frame_ties_missing_periods_and_orphans_keep_their_meaning():
    tariffs, session_frame, period_frame, _, _ = _frames(20, seed=23)
    by_id = {t.id: t for t in tariffs}
    # session "0" loses its periods: the grouping no longer matches, the sorted path reports NO_PERIODS
    without_first = period_frame.filter(pl.col("session_id") != "0")
    frame = frames.price_frame(session_frame, without_first, by_id)
    assert frame["error_code"].to_list()[0] == "NO_PERIODS" and frame["error_code"].null_count() == 19
    # a repeated start (a tie the sort decides) takes the sorted path too; the rows still price
    tie = pl.concat([period_frame.head(1), period_frame])
    assert frames.price_frame(session_frame, tie, by_id).height == 20
    orphan = pl.concat([period_frame, period_frame.head(1).with_columns(pl.lit("ghost").alias("session_id"))])
    with pytest.raises(ValueError, match="1 rows belong to no session"):
        frames.price_frame(session_frame, orphan, by_id)
