"""The comparison rows of hand-built sessions (`build.comparison_rows`): every figure, reason and explanation
computed by hand, including the float energies a kWh source gives and a session's engine warnings."""

import datetime as dt
from decimal import Decimal as D

import polars as pl

from assets.pricing.tables import PRICED_SESSIONS
from assets.reconciliation.build import ROW_INPUTS, Tolerances, comparison_rows
from assets.sessions.tables import SESSION_LINKS, SESSIONS

UTC = dt.timezone.utc
START = dt.datetime(2026, 10, 24, 8, 0, tzinfo=UTC)
SCHEMA = {**SESSIONS.schema, **PRICED_SESSIONS.schema, "total_time_s_ours": PRICED_SESSIONS.schema["total_time_s"],
          "total_time_s": SESSIONS.schema["total_time_s"], "charges_idle": pl.Boolean}
LINK_SCHEMA = {c: t for c, t in SESSION_LINKS.schema.items() if c != "settlement_date"}


def _session(session_id: str, **values) -> dict:
    row = {c: None for c in ROW_INPUTS} | {
        "session_id": session_id, "source": "ocpi_cdr", "currency": "EUR", "reported_currency": "EUR",
        "tariff_ids": [], "tariff_id": "T1", "tariff_origin": "evse", "total_time_s_ours": 3660, "total_time_s": 3660,
        "parking_time_s": 0, "total_parking_s": 0, "start_utc": START, "end_utc": START + dt.timedelta(seconds=3660),
        "charges_idle": False}
    return row | values


def _rows(sessions: list[dict], links: list[dict] = ()) -> dict[tuple[str, str, str], dict]:
    frame = pl.DataFrame(sessions, schema={c: SCHEMA[c] for c in (*ROW_INPUTS, "charges_idle")})
    link_frame = pl.DataFrame(list(links), schema=LINK_SCHEMA)
    table = comparison_rows(frame, link_frame, Tolerances(), frozenset({"T1", "T9"}))
    return {(r["session_id"], r["counterpart_id"], r["dimension"]): r for r in table.iter_rows(named=True)}


PRICED = {"total_energy_cost_excl": D("2.4690"), "total_time_cost_excl": D("0.5310"),
          "total_parking_cost_excl": D("0.0000"), "total_fixed_cost_excl": D("0.0000"), "total_cost_excl": D("3.0000"),
          "total_cost_incl": D("3.5700")}


def test_record_rows_reasons_and_explanations():
    rows = _rows([
        # rounds two lines on its own: 2 cents of difference are ROUNDING; a kWh source's float energy agrees
        _session("s1", total_energy_wh=12345.0, energy_wh=12344.999999999998, reported_cost_excl_vat=D("3.00"),
                 reported_cost_incl_vat=D("3.59"), **PRICED),
        # names a tariff we know, priced with another; the engine repaired a glitch
        _session("s2", tariff_ids=["T9"], total_energy_wh=5000.0, energy_wh=5000.0, pricing_warnings="CLOCK_SKEW",
                 reported_cost_excl_vat=D("4.00"), reported_cost_incl_vat=D("4.76"), **PRICED),
        _session("s3", error_code="NO_TARIFF", error="no tariff for EVSE X", energy_wh=1.0,
                 reported_cost_incl_vat=D("1.19")),
        # energies printed to the Wh, half to even
        _session("s4", total_energy_wh=5003.5, energy_wh=5000.4, reported_cost_incl_vat=D("3.20"), **PRICED),
        _session("s5", reported_currency="GBP", total_energy_wh=1.0, energy_wh=1.0, reported_cost_incl_vat=D("3.00"),
                 **PRICED),
    ])
    assert len(rows) == 35
    s1 = rows[("s1", "s1", "total_incl")]
    assert (s1["ours"], s1["theirs"], s1["difference"], s1["reason_code"]) == (
        D("3.5700"), D("3.5900"), D("-0.0200"), "ROUNDING")
    assert s1["explanation"] == ("same tariff T1 and quantities; 2 amount(s) the source rounds to the cent; "
                                 "difference -0.02")
    assert rows[("s1", "s1", "total_excl")]["reason_code"] == "AGREES"
    assert rows[("s1", "s1", "total_excl")]["explanation"] is None
    assert rows[("s1", "s1", "tax")]["ours"] == D("0.5700") and rows[("s1", "s1", "tax")]["theirs"] == D("0.5900")
    energy = rows[("s1", "s1", "energy")]
    assert (energy["ours"], energy["theirs"], energy["reason_code"], energy["explanation"], energy["unit"]) == (
        D("2.4690"), None, "NOT_REPORTED", "the counterpart reports no such figure", "EUR")

    s2 = rows[("s2", "s2", "total_incl")]
    assert s2["reason_code"] == "TARIFF_DIFFERS" and s2["difference"] == D("-1.1900")
    assert s2["explanation"] == ("source names tariff T9; priced with T1 (evse); difference -1.19; "
                                 "priced with engine warnings CLOCK_SKEW")
    assert rows[("s2", "s2", "parking")]["explanation"] == ("the counterpart reports no such figure; "
                                                            "priced with engine warnings CLOCK_SKEW")

    s3 = rows[("s3", "s3", "total_incl")]
    assert (s3["ours"], s3["theirs"], s3["reason_code"], s3["explanation"]) == (
        None, D("1.1900"), "SOURCE_HAS_NO_TARIFF", "NO_TARIFF: no tariff for EVSE X")
    assert rows[("s3", "s3", "tax")]["ours"] is None and rows[("s3", "s3", "tax")]["theirs"] is None

    s4 = rows[("s4", "s4", "total_incl")]
    assert s4["reason_code"] == "ENERGY_DIFFERS" and s4["difference"] == D("0.3700")
    assert s4["explanation"] == "source 5000 Wh, priced 5004 Wh; difference 0.37"

    s5 = rows[("s5", "s5", "total_incl")]
    assert s5["reason_code"] == "CURRENCY" and s5["unit"] == "EUR"
    assert s5["explanation"] == "source reports GBP, tariff T1 is in EUR; difference 0.57"


def test_idle_time_the_source_does_not_report():
    rows = _rows([_session("s1", charges_idle=True, total_energy_wh=8000.0, energy_wh=8000.0,
                           reported_cost_incl_vat=D("5.00"), **PRICED | {
                               "total_parking_cost_excl": D("1.5000"), "total_cost_excl": D("3.5000"),
                               "total_cost_incl": D("4.1650")})])
    total = rows[("s1", "s1", "total_incl")]
    assert total["reason_code"] == "IDLE_NOT_REPORTED" and total["difference"] == D("-0.8350")
    assert total["explanation"] == "tariff T1 charges idle time; the source reports none; difference -0.835"


def test_linked_records_of_another_source():
    session = _session("s1", total_energy_wh=12345.0, energy_wh=12344.999999999998, reported_cost_incl_vat=D("3.57"),
                       **PRICED)
    links = [
        {"session_id": "s1", "linked_session_id": "e-1", "linked_source": "eevion", "session_ref": "x",
         "start_utc": START, "end_utc": START + dt.timedelta(seconds=3600), "energy_wh": 12000.0, "currency": "EUR",
         "reported_cost_excl_vat": None, "reported_cost_incl_vat": D("4.00")},
        {"session_id": "s1", "linked_session_id": "ocpp:CP-1:7", "linked_source": "ocpp", "session_ref": "y",
         "start_utc": START, "end_utc": START + dt.timedelta(seconds=3540), "energy_wh": 12345.6,
         "currency": None, "reported_cost_excl_vat": None, "reported_cost_incl_vat": None},
        {"session_id": "elsewhere", "linked_session_id": "e-2", "linked_source": "eevion", "session_ref": "z",
         "start_utc": START, "end_utc": START, "energy_wh": 1.0, "currency": "EUR",
         "reported_cost_excl_vat": None, "reported_cost_incl_vat": D("1.00")},
    ]
    rows = _rows([session], links)
    assert len(rows) == 7 + 4 + 4  # the link of a session not in the batch is not compared
    energy = rows[("s1", "e-1", "energy_wh")]
    assert (energy["ours"], energy["theirs"], energy["difference"], energy["unit"], energy["reason_code"]) == (
        D("12345.0000"), D("12000.0000"), D("345.0000"), "Wh", "ENERGY_DIFFERS")
    assert energy["explanation"] == "eevion record e-1: 12000 Wh over 3600 s; ours 12345 Wh over 3660 s; difference 345"
    duration = rows[("s1", "e-1", "duration_s")]
    assert (duration["ours"], duration["theirs"], duration["reason_code"]) == (D("3660"), D("3600"), "AGREES")
    cost = rows[("s1", "e-1", "total_incl")]
    assert (cost["counterpart"], cost["reason_code"], cost["difference"]) == ("eevion", "TARIFF_DIFFERS", D("-0.4300"))
    assert cost["explanation"] == "eevion bills it under its own eevion tariff, we under T1; difference -0.43"
    assert rows[("s1", "e-1", "total_excl")]["reason_code"] == "NOT_REPORTED"
    ocpp = rows[("s1", "ocpp:CP-1:7", "duration_s")]
    assert (ocpp["difference"], ocpp["reason_code"]) == (D("120"), "DURATION_DIFFERS")
    assert ocpp["explanation"] == ("ocpp record ocpp:CP-1:7: 12346 Wh over 3540 s; ours 12345 Wh over 3660 s; "
                                   "difference 120")
    assert rows[("s1", "ocpp:CP-1:7", "energy_wh")]["reason_code"] == "AGREES"  # 0.6 Wh apart
    assert rows[("s1", "ocpp:CP-1:7", "total_incl")]["unit"] == "EUR"


def test_hostile_figures_get_a_reason_and_fail_nothing():
    """Non-finite and huge figures, missing times, tariffs and currencies, an unknown linked source: every row
    still gets a reason and an explanation, and nothing raises."""
    link = {"session_id": "h2", "linked_session_id": "x-1", "linked_source": "unknown_source", "session_ref": None,
            "start_utc": None, "end_utc": START, "energy_wh": float("nan"), "currency": "EUR",
            "reported_cost_excl_vat": None, "reported_cost_incl_vat": D("1")}
    rows = _rows([
        _session("h1", total_energy_wh=float("nan"), energy_wh=float("inf"), reported_cost_incl_vat=D("3.00"),
                 **PRICED),
        _session("h2", total_energy_wh=1e300, energy_wh=None, tariff_ids=None, tariff_id=None, currency=None,
                 reported_currency=None, start_utc=None, **PRICED),
        _session("h3", total_energy_wh=5.0, energy_wh=1e-20, tariff_ids=[None, ""],
                 reported_cost_incl_vat=D("99999999999999.9999"), **PRICED),
    ], [link])
    assert len(rows) == 3 * 7 + 4
    energy = rows[("h2", "x-1", "energy_wh")]
    assert (energy["ours"], energy["theirs"], energy["reason_code"], energy["explanation"]) == (
        None, None, "NOT_PRICED", "we have no such figure of the session")
    cost = rows[("h2", "x-1", "total_incl")]
    assert (cost["reason_code"], cost["unit"], cost["difference"]) == ("CURRENCY", "EUR", D("2.5700"))
    assert cost["explanation"] == ("unknown_source bills it under its own None tariff, we under None; "
                                   "difference 2.57")
    huge = rows[("h3", "h3", "total_incl")]
    assert (huge["theirs"], huge["reason_code"]) == (D("99999999999999.9999"), "ENERGY_DIFFERS")
    assert huge["difference"] == D("-99999999999996.4299")
